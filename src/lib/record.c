/*
 * record.c: the resume record's writer and reader (record.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "record.h"

char *ts_resume_record_path(const char *manifest_path)
{
    size_t len = strlen(manifest_path), suf = sizeof TS_MANIFEST_SUFFIX - 1;
    if (len <= suf || strcmp(manifest_path + len - suf, TS_MANIFEST_SUFFIX))
        return NULL;
    const char *slash = strrchr(manifest_path, '/');
    size_t dir = slash ? (size_t)(slash - manifest_path) + 1 : 0;
    if (dir == len - suf)
        return NULL;   /* no name before the suffix */
    char *p = NULL;
    if (asprintf(&p, "%.*s.%.*s" TS_RECORD_SUFFIX, (int)dir, manifest_path, (int)(len - suf - dir),
                 manifest_path + dir) < 0)
        return NULL;
    return p;
}

void ts_record_format(ts_buf *b, const char *input, uint64_t size, int64_t mtime_ns, uint64_t manifest_bytes,
                      const char *options, const char *summary, size_t summary_len)
{
    ts_buf_append(b, "{\"input\": ", 10);
    ts_json_put_string(b, input, strlen(input));
    char nums[200];
    int n = snprintf(nums, sizeof nums,
                     ", \"size\": %" PRIu64 ", \"mtime_ns\": %" PRId64 ", \"manifest_bytes\": %" PRIu64 ", \"options\": ",
                     size, mtime_ns, manifest_bytes);
    ts_buf_append(b, nums, (size_t)n);
    ts_json_put_string(b, options, strlen(options));
    ts_buf_append(b, "}\n", 2);
    ts_buf_append(b, summary, summary_len);
}

void ts_record_clear(ts_record *r)
{
    free(r->input);
    free(r->options);
    ts_summary_free(r->shard);
    memset(r, 0, sizeof *r);
}

int ts_record_parse(const char *data, size_t len, ts_record *out)
{
    memset(out, 0, sizeof *out);
    if (!data || len == 0)
        return 0;   /* empty: not a record */
    const char *nl = memchr(data, '\n', len);
    if (!nl)
        return 0;   /* cut in line 1 */
    json_t *id = json_loadb(data, (size_t)(nl - data), JSON_REJECT_DUPLICATES, NULL);
    const char *input = json_string_value(json_object_get(id, "input"));
    const char *key = json_string_value(json_object_get(id, "options"));
    json_t *jsize = json_object_get(id, "size"), *jmtime = json_object_get(id, "mtime_ns"),
           *jbytes = json_object_get(id, "manifest_bytes");
    if (!json_is_object(id) || !input || !key || !json_is_integer(jsize) || !json_is_integer(jmtime) ||
        !json_is_integer(jbytes)) {
        json_decref(id);
        return 0;
    }
    out->input = strdup(input);
    out->options = strdup(key);
    out->size = (int64_t)json_integer_value(jsize);
    out->mtime_ns = (int64_t)json_integer_value(jmtime);
    out->manifest_bytes = (int64_t)json_integer_value(jbytes);
    json_decref(id);
    if (!out->input || !out->options) {
        ts_record_clear(out);
        return TS_E_NOMEM;
    }
    ts_summary *sm = NULL;
    int err = ts_summary_parse(nl + 1, len - (size_t)(nl + 1 - data), &sm, NULL);
    if (err == TS_E_NOMEM) {
        ts_record_clear(out);
        return err;
    }
    /* Only a shard read to its end, with its counts (a summary may list its
     * shards without them), its manifest and this input, can be reused. */
    const ts_summary_shard *sh = sm && sm->nshards == 1 ? &sm->shards[0] : NULL;
    if (sh && sm->shards_counted && sh->manifest && sh->input && !strcmp(sh->input, out->input) && sh->status &&
        sh->format && (!strcmp(sh->status, "ok") || !strcmp(sh->status, "no_documents")))
        out->shard = sm;
    else
        ts_summary_free(sm);
    return 1;
}
