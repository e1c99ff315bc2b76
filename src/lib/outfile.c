/*
 * outfile.c: every output is written under a temporary name and renamed when
 * complete, so that a reader never sees half a file.
 *
 * Temporaries are named ".<final name>.tmp.<host>.<pid>" in the final
 * directory, so a run killed by SIGKILL (which no handler sees) can be
 * cleaned up after: ts_outfile_remove_stale removes the temporaries of this
 * host whose process is gone. A temporary of another host (a shared file
 * system) or of a live process is never touched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tropescan.h"

struct ts_outfile {
    int fd;
    char *path;
    char *tmp;
};

/* ".tmp.<host>.": what follows a final name in a temporary's name. */
static void tmp_tag(char *buf, size_t cap)
{
    char host[256];
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p; p++)
        if (*p == '/')
            *p = '_';
    snprintf(buf, cap, ".tmp.%s.", host);
}

char *ts_outfile_tmp_name(const char *path)
{
    char tag[300];
    tmp_tag(tag, sizeof tag);
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) : 0;
    const char *base = slash ? slash + 1 : path;
    char *tmp = NULL;
    if (asprintf(&tmp, "%.*s%s.%s%s%ld", dirlen, path, slash ? "/" : "", base, tag, (long)getpid()) < 0)
        return NULL;
    return tmp;
}

static void set_diag(ts_diag *diag, const char *file, const char *fmt, const char *what)
{
    if (!diag)
        return;
    ts_diag_clear(diag);
    snprintf(diag->file, sizeof diag->file, "%s", file);
    snprintf(diag->message, sizeof diag->message, fmt, file, what);
}

int ts_outfile_open(const char *path, ts_outfile **out, ts_diag *diag)
{
    *out = NULL;
    ts_outfile *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path)) || !(f->tmp = ts_outfile_tmp_name(path))) {
        if (f)
            free(f->path);
        free(f);
        return TS_E_NOMEM;
    }
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        set_diag(diag, f->tmp, "%s: cannot create: %s", strerror(errno));
        free(f->tmp);
        free(f->path);
        free(f);
        return TS_E_IO;
    }
    *out = f;
    return TS_OK;
}

const char *ts_outfile_tmp_path(const ts_outfile *f) { return f ? f->tmp : NULL; }

int ts_outfile_write(ts_outfile *f, const void *data, size_t len, ts_diag *diag)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            set_diag(diag, f->tmp, "%s: cannot write: %s", strerror(errno));
            return TS_E_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return TS_OK;
}

static void outfile_release(ts_outfile *f)
{
    free(f->tmp);
    free(f->path);
    free(f);
}

int ts_outfile_commit(ts_outfile *f, ts_diag *diag)
{
    int err = TS_OK;
    /* EINVAL, EROFS: a file that cannot be synced (a pipe, /dev/null). */
    if (fdatasync(f->fd) != 0 && errno != EINVAL && errno != EROFS) {
        set_diag(diag, f->tmp, "%s: cannot sync: %s", strerror(errno));
        err = TS_E_IO;
    }
    if (close(f->fd) != 0 && !err) {
        set_diag(diag, f->tmp, "%s: cannot close: %s", strerror(errno));
        err = TS_E_IO;
    }
    f->fd = -1;
    if (!err && rename(f->tmp, f->path) != 0) {
        set_diag(diag, f->path, "%s: cannot rename: %s", strerror(errno));
        err = TS_E_IO;
    }
    if (err)
        unlink(f->tmp);
    outfile_release(f);
    return err;
}

void ts_outfile_abort(ts_outfile *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    unlink(f->tmp);
    outfile_release(f);
}

int ts_outfile_write_all(const char *path, const void *data, size_t len, ts_diag *diag)
{
    ts_outfile *f;
    int err = ts_outfile_open(path, &f, diag);
    if (err)
        return err;
    if ((err = ts_outfile_write(f, data, len, diag)) != TS_OK) {
        ts_outfile_abort(f);
        return err;
    }
    return ts_outfile_commit(f, diag);
}

int ts_outfile_remove_stale(const char *dir, int (*is_output)(const char *name, size_t len))
{
    char tag[300];
    tmp_tag(tag, sizeof tag);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        const char *t = n[0] == '.' ? strstr(n, tag) : NULL;
        if (!t || t == n + 1 || (is_output && !is_output(n + 1, (size_t)(t - n - 1))))
            continue;
        char *end;
        errno = 0;
        long pid = strtol(t + strlen(tag), &end, 10);
        if (errno || *end || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive, or not ours to judge */
        char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, n) < 0)
            continue;
        if (unlink(path) == 0)
            removed++;
        free(path);
    }
    closedir(d);
    return removed;
}
