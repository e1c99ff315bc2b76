/*
 * json_speed.c: throughput of json_extract, + json_string_decode of the text
 * field, + ts_normalise, over a JSONL file held in memory. Not a test (timings
 * vary); run by hand:  json_speed FILE [REPEATS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "tropescan.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: json_speed FILE.jsonl [REPEATS]\n");
        return 2;
    }
    int repeats = argc > 2 ? atoi(argv[2]) : 20;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "read failed\n");
        return 1;
    }
    fclose(f);
    size_t n = (size_t)size;

    json_path paths[2];
    json_path_parse("text", &paths[0]);
    json_path_parse("id", &paths[1]);
    char *dec = malloc(n + 1);
    char *norm = malloc(n + 1);

    const char *stage_name[3] = { "extract", "extract+decode", "extract+decode+normalise" };
    for (int stage = 0; stage < 3; stage++) {
        double best = 1e30;
        uint64_t check = 0;
        size_t lines = 0, errors = 0;
        for (int rep = 0; rep < repeats; rep++) {
            double t0 = now();
            check = 0;
            lines = errors = 0;
            const char *p = data, *end = data + n;
            while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                json_field fld[2];
                size_t off;
                lines++;
                if (json_extract(p, len, paths, 2, fld, &off) != 0) {
                    errors++;
                } else if (fld[0].kind == JSON_STRING) {
                    check += fld[0].raw_len;
                    if (stage >= 1) {
                        ptrdiff_t d = json_string_decode(fld[0].raw, fld[0].raw_len, dec, &off);
                        if (d >= 0) {
                            check += (uint64_t)d;
                            if (stage >= 2) {
                                uint32_t w;
                                check += ts_normalise(dec, (size_t)d, norm, &w) + w;
                            }
                        }
                    }
                }
                p = nl ? nl + 1 : end;
            }
            double t = now() - t0;
            if (t < best)
                best = t;
        }
        printf("%-26s %8.1f MB/s  (%zu lines, %zu errors, %.2f MB, check %llu)\n", stage_name[stage],
               (double)n / best / 1e6, lines, errors, (double)n / 1e6, (unsigned long long)check);
    }

    /* Normalise alone, over the decoded texts laid end to end. */
    {
        size_t total = 0;
        const char *p = data, *end = data + n;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            json_field fld[2];
            size_t off;
            if (json_extract(p, len, paths, 2, fld, &off) == 0 && fld[0].kind == JSON_STRING) {
                ptrdiff_t d = json_string_decode(fld[0].raw, fld[0].raw_len, dec + total, &off);
                if (d > 0)
                    total += (size_t)d;
            }
            p = nl ? nl + 1 : end;
        }
        double best = 1e30;
        size_t out = 0;
        for (int rep = 0; rep < repeats; rep++) {
            double t0 = now();
            uint32_t w;
            out = ts_normalise(dec, total, norm, &w);
            double t = now() - t0;
            if (t < best)
                best = t;
        }
        printf("%-26s %8.1f MB/s  (%.2f MB of decoded text -> %.2f MB)\n", "normalise alone",
               (double)total / best / 1e6, (double)total / 1e6, (double)out / 1e6);
    }
    free(data);
    free(dec);
    free(norm);
    return 0;
}
