// The public header alone, as C++ (warnings are errors): extern "C", no C-only syntax.
#include "tropescan.h"

int main()
{
    ts_run_settings s;
    ts_run_settings_default(&s);
    ts_policy p;
    ts_policy_default(&p);
    if (ts_policy_resolve(&p, nullptr) != TS_OK)
        return 1;
    double w = 0;
    ts_action a = ts_policy_decide(&p, 0.1, -1, &w);
    return a == TS_ACTION_KEEP && w == 1 && s.threads == 0 ? 0 : 1;
}
