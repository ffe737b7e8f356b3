/*
 * main.c - certmond: options, signals and the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <curl/curl.h>

#include "certmon/auth.h"
#include "certmon/cancel.h"
#include "certmon/log.h"
#include "certmond.h"

static int use_syslog;
static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t got_term, got_hup;

void
daemon_log(int priority, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	if (use_syslog)
		syslog(priority, "%s", line);
	else
		fprintf(stderr, "certmond: %s\n", line);
}

static void
log_sink(enum cm_log_level level, const char *line, void *arg)
{
	(void)arg;
	daemon_log((int)level, "%s", line);
}

cm_time
daemon_now(struct daemon_ctx *d)
{
	char buf[64];
	cm_time t;
	FILE *fp;

	if (d->clock_file == NULL || (fp = fopen(d->clock_file, "r")) == NULL)
		return cm_clock_now();
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	buf[strcspn(buf, "\r\n")] = '\0';
	return cm_time_parse(buf, &t) == 0 ? t : cm_clock_now();
}

static void
on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		got_hup = 1;
	else {
		got_term = 1;
		cm_cancel_request();   /* abort SMTP/HTTP transfers in flight */
	}
	if (write(sig_pipe[1], "x", 1) < 0) {
		/* the pipe is full: a wake-up is pending anyway */
	}
	errno = saved;
}

static int
setup_signals(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Tells systemd (Type=notify) that the daemon is ready: "READY=1" as a
 * datagram to $NOTIFY_SOCKET, sent by the main process itself. */
static void
notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0';   /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa, len) < 0)
		daemon_log(LOG_WARNING, "could not notify systemd: %s",
		    strerror(errno));
	close(fd);
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: certmond [--db PATH] [--listen ADDR:PORT] "
	    "[--foreground] [--syslog]\n"
	    "                [--tls-cert FILE --tls-key FILE | --no-tls]\n"
	    "                [--metrics-all] [--metrics-token-file FILE]\n"
	    "  --db PATH        the store (default $CERTMON_DB, else "
	    "./certmon.db)\n"
	    "  --listen A:P     default 127.0.0.1:8443\n"
	    "  --no-tls         serve plain HTTP (behind a TLS proxy only)\n"
	    "  --metrics-all    export every certificate in /metrics\n");
}

/* The event loop: returns when SIGTERM/SIGINT arrived. */
static void
loop(struct daemon_ctx *d)
{
	struct pollfd pfd[2];
	char drain[64];

	while (!got_term) {
		cm_time now = daemon_now(d);
		long long wait = 1000, h;
		int64_t dv;

		if (got_hup) {
			got_hup = 0;
			daemon_log(LOG_INFO, "SIGHUP: reloading settings");
			d->reschedule = 1;
		}
		dv = cm_store_data_version(d->st);
		if (dv != d->data_version) {
			d->data_version = dv;
			d->reschedule = 1;   /* another process changed the store */
		}
		scheduler_tick(d, now);
		/* sleep until the HTTP server or the 1 s store check needs us;
		 * the scheduler's deadlines are checked at least every second */
		h = http_timeout_ms(d);
		if (h >= 0 && h < wait)
			wait = h;
		if (d->more_due)
			wait = 0;        /* more endpoints are due: serve HTTP, go on */
		pfd[0].fd = http_fd(d);
		pfd[0].events = POLLIN;
		pfd[1].fd = sig_pipe[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, (int)wait) < 0 && errno != EINTR)
			break;
		while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
			;
		http_run(d);
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"foreground", no_argument, NULL, 'f'},
		{"syslog", no_argument, NULL, 's'},
		{"tls-cert", required_argument, NULL, 'c'},
		{"tls-key", required_argument, NULL, 'k'},
		{"no-tls", no_argument, NULL, 'n'},
		{"metrics-all", no_argument, NULL, 'm'},
		{"metrics-token-file", required_argument, NULL, 'M'},
		{"clock-file", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct daemon_ctx d;
	struct cm_err err = {CM_OK, ""};
	const char *cert_file = NULL, *key_file = NULL, *mtoken = NULL;
	int o, code = 1;

	memset(&d, 0, sizeof(d));
	d.db_path = getenv("CERTMON_DB");
	if (d.db_path == NULL || d.db_path[0] == '\0')
		d.db_path = "./certmon.db";
	d.tls = 1;
	snprintf(d.listen, sizeof(d.listen), "127.0.0.1:8443");
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': d.db_path = optarg; break;
		case 'l': snprintf(d.listen, sizeof(d.listen), "%s", optarg); break;
		case 'f': break;   /* certmond always runs in the foreground */
		case 's': use_syslog = 1; break;
		case 'c': cert_file = optarg; break;
		case 'k': key_file = optarg; break;
		case 'n': d.tls = 0; break;
		case 'm': d.metrics_all = 1; break;
		case 'M': mtoken = optarg; break;
		case 'C': d.clock_file = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 3;
		}
	}
	if (optind != argc || (cert_file == NULL) != (key_file == NULL)) {
		usage(stderr);
		return 3;
	}
	if (use_syslog)
		openlog("certmond", LOG_PID, LOG_DAEMON);
	cm_log_set_sink(log_sink, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (setup_signals() != 0) {
		daemon_log(LOG_ERR, "cannot set up signals: %s", strerror(errno));
		goto out;
	}
	if (mtoken != NULL) {
		FILE *fp = fopen(mtoken, "r");
		char tok[256] = "";

		if (fp == NULL || fgets(tok, sizeof(tok), fp) == NULL) {
			daemon_log(LOG_ERR, "%s: cannot read the metrics token", mtoken);
			if (fp != NULL)
				fclose(fp);
			goto out;
		}
		fclose(fp);
		tok[strcspn(tok, "\r\n")] = '\0';
		cm_auth_token_hash(tok, d.metrics_token_hash);
	}
	if (cm_store_open(d.db_path, daemon_now(&d), &d.st, &err) != CM_OK) {
		daemon_log(LOG_ERR, "%s", err.msg);
		goto out;
	}
	d.data_version = cm_store_data_version(d.st);
	/* the certificate is real: dated by the wall clock, not a test clock */
	if (d.tls && identity_load(&d, cert_file, key_file, cm_clock_now()) != 0)
		goto out;
	if (http_start(&d) != 0)
		goto out;
	daemon_log(LOG_INFO, "listening on %s://%s (store %s)", d.tls ? "https" :
	    "http", d.listen, d.db_path);
	if (scheduler_start(&d, daemon_now(&d)) != 0)
		goto out;
	notify_ready();
	loop(&d);
	daemon_log(LOG_INFO, "stopping");
	code = 0;
out:
	http_stop(&d);
	cm_store_close(d.st);
	free(d.count.ocsp);
	free(d.tls_key_pem);
	free(d.tls_cert_pem);
	curl_global_cleanup();
	return code;
}
