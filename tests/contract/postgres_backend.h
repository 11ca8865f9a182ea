// The PostgreSQL server that ctest starts for the tests (tests/servers/postgres.sh).
#pragma once

#include <string>

namespace prism::contract {

struct PostgresTestServer {
  std::string dir;        // the server's directory, PRISM_TEST_POSTGRES_DIR
  std::string admin_url;  // postgresql://postgres@127.0.0.1:PORT/postgres

  // The URL of another database on the same server.
  std::string DatabaseUrl(const std::string& database) const;
};

// Reads the server's URL from $PRISM_TEST_POSTGRES_DIR/postgres.url. Throws std::runtime_error
// saying how to start the server when the variable or the file is missing.
PostgresTestServer TestServer();

}  // namespace prism::contract
