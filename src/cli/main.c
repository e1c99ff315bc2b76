/* main.c: the tropescan command: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: tropescan COMMAND [OPTIONS] ...\n"
    "\n"
    "Audits and filters LLM pretraining corpora for evil-AI narratives.\n"
    "\n"
    "commands:\n"
    "  scan      score every document of JSONL shards; write manifests and a summary\n"
    "  apply     apply a scan's manifests: filtered shards, or Dolma attributes\n"
    "  lexicon   check the lexicon, or count what each pattern hits on a corpus\n"
    "  train     train a model from labelled JSONL\n"
    "  eval      measure a model on labelled JSONL\n"
    "  explain   show why documents get their scores\n"
    "  report    compare datasets: prevalence with intervals, tables and charts\n"
    "  merge     combine the summaries of partitions or runs into one\n"
    "\n"
    "  tropescan COMMAND --help   options of a command\n"
    "  tropescan --version       the version\n"
    "\n"
    "exit codes: 0 success; 1 some input failed (the rest completed);\n"
    "            2 usage error; 3 fatal error (lexicon, model, output place)\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("tropescan %s\n", TS_VERSION_STRING);
        return EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"scan", cmd_scan}, {"apply", cmd_apply}, {"lexicon", cmd_lexicon}, {"train", cmd_train},
        {"eval", cmd_eval}, {"explain", cmd_explain},
        {"report", cmd_report}, {"merge", cmd_merge},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    cli_error("unknown command '%s' (see tropescan --help)", cmd);
    return EXIT_USAGE;
}
