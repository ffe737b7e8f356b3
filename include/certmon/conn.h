/*
 * conn.h - connecting to a TLS peer, as `certmon tls-check` and the
 * long-lived connections (endpoint.h) do: HOST:PORT targets, a TCP
 * connection within a deadline, and SMTP or LDAP STARTTLS before the
 * handshake. The library never prints: failures come back as one line in
 * `why`.
 */
#ifndef CERTMON_CONN_H
#define CERTMON_CONN_H

#include <stddef.h>

#define CM_CONN_HOST_MAX 253

/* Splits "host:port" or "[v6]:port" into host (1-253 characters, at least
 * CM_CONN_HOST_MAX + 1 bytes) and *port (1-65535). Returns 0, or -1 when
 * s is not such a target. Pure. */
int cm_conn_parse_target(const char *s, char *host, int *port);

/* Connects to host:port within timeout_ms and sets that timeout on every
 * later read and write of the socket. Returns the (blocking) socket, or -1
 * with why filled; *unresolved is 1 when the name does not resolve (a
 * local error rather than the peer's). */
int cm_conn_tcp(const char *host, int port, long timeout_ms, char *why,
    size_t cap, int *unresolved);

/* Runs STARTTLS on a connected socket: proto "smtp" (greeting, EHLO, the
 * STARTTLS extension, STARTTLS) or "ldap" (the StartTLS extended
 * operation, RFC 4511 4.14); NULL or "" does nothing. Reads byte by byte,
 * so nothing of the TLS handshake that follows is consumed. Returns 0, or
 * -1 with why filled (an unknown proto included). */
int cm_conn_starttls(int fd, const char *proto, char *why, size_t cap);

/* Returns 1 when proto is NULL, "", "smtp" or "ldap"; else 0. Pure. */
int cm_conn_starttls_valid(const char *proto);

#endif
