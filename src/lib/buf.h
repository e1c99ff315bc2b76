/* buf.h: a growable byte buffer for building output text. */
#ifndef TS_BUF_H
#define TS_BUF_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct ts_buf {
    char *data;
    size_t len, cap;
    int failed;   /* an allocation failed: the content is incomplete */
} ts_buf;

/* Makes room for n more bytes. @return a pointer to write at, or NULL. */
static inline char *ts_buf_reserve(ts_buf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return NULL;
        }
        b->data = p;
        b->cap = cap;
    }
    return b->data + b->len;
}

static inline void ts_buf_append(ts_buf *b, const void *src, size_t n)
{
    char *p = ts_buf_reserve(b, n);
    if (p) {
        memcpy(p, src, n);
        b->len += n;
    }
}

static inline void ts_buf_puts(ts_buf *b, const char *s) { ts_buf_append(b, s, strlen(s)); }

static inline void ts_buf_free(ts_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

#endif
