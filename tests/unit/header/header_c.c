/* The public header alone, as C (warnings are errors): it includes what it
 * needs and nothing of the library's insides. */
#include "tropescan.h"

int main(void)
{
    ts_run_settings s;
    ts_run_settings_default(&s);
    ts_docs_settings d;
    ts_docs_settings_default(&d);
    return s.threads + (int)d.nextra + (int)sizeof(ts_stats) * 0 + (ts_strerror(TS_OK) ? 0 : 1);
}
