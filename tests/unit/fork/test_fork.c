/*
 * test_fork.c: the shared library in a process that forks (as Python's
 * multiprocessing and Dask do): scan, fork, scan again in parent and child,
 * several times. libgomp's thread pool does not survive fork(): a child
 * whose parent still had a pool hangs in its next parallel region. The
 * library keeps its pool inside a thread that ends with each run
 * (pipeline.c), so both sides finish, with the same manifest as before the
 * fork. A child that does not finish within 60 s fails the test.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tropescan.h"

static char tmpdir[64];
static ts_lexicon *lex;
static const char *input;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = malloc(1 << 20);
    *len = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

/* Scans input into tmpdir/<tag>; @return 0 when the manifest equals ref (if given). */
static int scan(const char *tag, const char *ref, size_t ref_len)
{
    char out[256], man[320];
    snprintf(out, sizeof out, "%s/%s", tmpdir, tag);
    ts_run_settings s;
    ts_run_settings_default(&s);
    s.outdir = out;
    s.threads = 4;
    s.chunk_size = 4096;
    ts_run *r;
    ts_diag d;
    int err = ts_run_create(&s, lex, NULL, &r, &d);
    if (!err)
        err = ts_run_add_input(r, input, "in");
    if (!err)
        err = ts_run_prepare(r, NULL, &d);
    if (!err)
        err = ts_run_execute(r, &d);
    if (!err)
        err = ts_run_write_summary(r, 0, &d);
    ts_run_free(r);
    if (err) {
        fprintf(stderr, "%s: %s (%s)\n", tag, d.message, ts_strerror(err));
        return 1;
    }
    if (!ref)
        return 0;
    snprintf(man, sizeof man, "%s/in.manifest.jsonl.zst", out);
    size_t len;
    char *m = slurp(man, &len);
    int same = m && len == ref_len && !memcmp(m, ref, len);
    free(m);
    return !same;
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ts-fork-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 2;
    char path[128];
    snprintf(path, sizeof path, "%s/in.jsonl", tmpdir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 3000; i++)
        fprintf(f, "{\"id\":\"%d\",\"text\":\"the robot %s shut down, line %d\"}\n", i,
                i % 3 ? "agreed to" : "refused to", i);
    fclose(f);
    input = path;
    ts_diag d;
    const char ent[] = "robot(s|)\n", sr[] = "refused to shut down\n";
    if (ts_lexicon_create(&lex) || ts_lexicon_add_text(lex, "ai_entity", "a", ent, sizeof ent - 1, &d) ||
        ts_lexicon_add_text(lex, "shutdown_resistance", "s", sr, sizeof sr - 1, &d) || ts_lexicon_compile(lex, &d))
        return 2;

    int failures = scan("before", NULL, 0);
    char ref_path[160];
    snprintf(ref_path, sizeof ref_path, "%s/before/in.manifest.jsonl.zst", tmpdir);
    size_t ref_len = 0;
    char *ref = slurp(ref_path, &ref_len);
    if (!ref)
        return 2;
    for (int round = 0; round < 3; round++) {
        char tag[32];
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        if (pid == 0) {
            alarm(60); /* a hang in the child ends it */
            snprintf(tag, sizeof tag, "child%d", round);
            _exit(scan(tag, ref, ref_len));
        }
        snprintf(tag, sizeof tag, "parent%d", round);
        failures += scan(tag, ref, ref_len);
        int status = 0;
        time_t t0 = time(NULL);
        while (waitpid(pid, &status, WNOHANG) == 0) {
            if (time(NULL) - t0 > 90) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                break;
            }
            usleep(10000);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "round %d: the child %s\n", round,
                    WIFSIGNALED(status) ? "hung or crashed" : "failed its scan");
            failures++;
        }
    }
    free(ref);
    ts_lexicon_free(lex);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        return 2;
    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    return failures != 0;
}
