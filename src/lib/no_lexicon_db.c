/* no_lexicon_db.c: no build-time databases, for the program that makes them. */
#include "embedded.h"

const uint64_t ts_default_lexicon_db_id = 0;
const unsigned char *const ts_default_lexicon_db = NULL;
const size_t ts_default_lexicon_db_size = 0;
const unsigned char *const ts_default_lexicon_db_som = NULL;
const size_t ts_default_lexicon_db_som_size = 0;
