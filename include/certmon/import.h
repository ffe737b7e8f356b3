/*
 * import.h - uploading many files into a unit as one transaction, parsing
 * them on several threads while the store writes.
 */
#ifndef CERTMON_IMPORT_H
#define CERTMON_IMPORT_H

#include <stddef.h>

#include "certmon/cert.h"
#include "certmon/store.h"

/* Parses the n files at paths (on `threads` worker threads, 0 = 2) and
 * uploads their certificates into unit in one transaction, in file order.
 * The first file that fails to parse aborts the whole import with its
 * error (naming the file) and nothing changes. Fills *report like
 * cm_store_upload. */
enum cm_status cm_import_files(struct cm_store *st, const char *unit,
    const char *const *paths, size_t n, const struct cm_parse_opts *popts,
    const struct cm_upload_opts *uopts, int threads, const char *actor,
    cm_time now, struct cm_upload_report *report, struct cm_err *err);

#endif
