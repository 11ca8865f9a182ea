// The `prism` executable: one subcommand per service role.
#include <cstdio>
#include <functional>
#include <memory>

#include <CLI/CLI.hpp>

#include "app/roles.h"
#include "app/shutdown.h"
#include "common/config.h"
#include "common/log.h"

namespace {

using prism::OptionGroup;

struct Role {
  const char* name;
  const char* description;
  std::vector<OptionGroup> groups;
  int (*run)(const prism::Config&);
};

const std::vector<Role>& Roles() {
  using G = OptionGroup;
  static const std::vector<Role> roles = {
      {"serve",
       "run every role in one process on embedded storage, with the web app",
       {G::kProcess, G::kHttp, G::kStream, G::kReadSide, G::kStorage, G::kCleaner, G::kAuth},
       prism::app::RunServe},
      {"api",
       "serve the HTTP API: queries and command admission",
       {G::kProcess, G::kHttp, G::kReadSide, G::kStorage, G::kAuth},
       prism::app::RunApi},
      {"domain",
       "process queued commands into events",
       {G::kProcess, G::kStorage},
       prism::app::RunDomain},
      {"projector",
       "apply domain events to the read models and publish live updates",
       {G::kProcess, G::kReadSide, G::kStorage},
       prism::app::RunProjector},
      {"stream",
       "serve live updates as server-sent events",
       {G::kProcess, G::kStream, G::kHttp, G::kStorage, G::kAuth},
       prism::app::RunStream},
      {"cleaner",
       "forget completed idempotency keys older than the retention",
       {G::kProcess, G::kStorage, G::kCleaner},
       prism::app::RunCleaner},
      {"init",
       "create or migrate the storage schema, queues and consumer groups",
       {G::kProcess, G::kStorage},
       prism::app::RunInit},
      {"rebuild",
       "drop the read models and replay every event into them",
       {G::kProcess, G::kReadSide, G::kStorage},
       prism::app::RunRebuild},
  };
  return roles;
}

}  // namespace

int main(int argc, char** argv) {
  prism::app::BlockShutdownSignals();

  CLI::App app{"Prism Plan: an event-sourced task planner"};
  app.require_subcommand(1);
  app.add_subcommand("version", "print the version and exit");

  std::vector<std::unique_ptr<prism::OptionSet>> option_sets;
  std::vector<CLI::App*> commands;
  for (const Role& role : Roles()) {
    CLI::App* command = app.add_subcommand(role.name, role.description);
    option_sets.push_back(std::make_unique<prism::OptionSet>(*command, role.groups));
    commands.push_back(command);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }

  if (app.got_subcommand("version")) {
    std::printf("prism %s\n", PRISM_VERSION);
    return 0;
  }

  for (size_t i = 0; i < commands.size(); ++i) {
    if (!commands[i]->parsed()) continue;
    prism::Config config;
    try {
      option_sets[i]->Apply(config);
      prism::ValidateConfig(config);
    } catch (const prism::ConfigError& error) {
      std::fprintf(stderr, "prism %s: %s\n", Roles()[i].name, error.what());
      return 2;
    }
    prism::log::Init(config.debug);
    return Roles()[i].run(config);
  }
  return 2;
}
