/*
 * text.h - making untrusted text safe for plain-text output (terminals,
 * mail bodies, logs): control characters become visible escapes.
 */
#ifndef CERTMON_TEXT_H
#define CERTMON_TEXT_H

/* Returns a newly allocated copy of s (UTF-8) in which every C0 control
 * character and DEL is written as \xNN and every C1 control character as
 * \u00NN, so the text stays on one line and cannot forge lines or
 * terminal sequences; NULL when out of memory. NULL s is taken as "". */
char *cm_text_escape(const char *s);

#endif
