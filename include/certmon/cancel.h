/*
 * cancel.h - a process-wide "stop now" request.
 *
 * A program's signal handler calls cm_cancel_request(); long network
 * operations of the library (SMTP, HTTP fetches) then abort at their next
 * progress callback and report a temporary failure, so nothing is lost
 * and the program can stop within a second or two.
 */
#ifndef CERTMON_CANCEL_H
#define CERTMON_CANCEL_H

/* Asks every running and later network operation to stop. Async-signal-
 * safe. */
void cm_cancel_request(void);

/* Returns 1 once a stop was requested. */
int cm_cancel_requested(void);

#endif
