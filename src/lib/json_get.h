/* json_get.h: typed reads of one member of a jansson object, shared by the
 * summary parser (stats.c) and the report's reader of `eval --json`. */
#ifndef TS_JSON_GET_H
#define TS_JSON_GET_H

#include <stdint.h>

#include <jansson.h>

/* The count at key of obj: a non-negative integer. @return 0, or -1. */
static inline int ts_json_get_u64(json_t *obj, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* The number at key of obj. @return 0, or -1. */
static inline int ts_json_get_num(json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return 0;
}

#endif
