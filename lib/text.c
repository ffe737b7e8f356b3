/* text.c - control characters made visible. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certmon/text.h"

char *
cm_text_escape(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t n = strlen((const char *)p);
	char *out = malloc(6 * n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			o += sprintf(o, "\\x%02x", *p);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			o += sprintf(o, "\\u%04x", p[1]);   /* C1 control */
			p++;
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}
