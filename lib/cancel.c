/* cancel.c - a process-wide "stop now" request. */
#include <signal.h>

#include "certmon/cancel.h"

static volatile sig_atomic_t requested;

void
cm_cancel_request(void)
{
	requested = 1;
}

int
cm_cancel_requested(void)
{
	return requested != 0;
}
