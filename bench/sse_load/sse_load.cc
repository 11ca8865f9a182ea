// Load client for scenario P5: keeps many `GET /stream` connections open while commands are
// posted, and measures how long each change takes to reach its user's stream and GET /api/tasks.
//
//   sse_load --port 8080 --secret S --connections 10000 --hold 60 --rate 1000 [--server-pid PID]
//            [--api-port N]
//
// Streams connect to `--port`, and commands and list probes go to `--api-port` (default:
// `--port`). On the cluster, the streams can so reach `prism stream` while commands go through
// HAProxy.
//
// Every connection belongs to its own user (or `--users` fewer, shared round robin); tokens are
// HS256 with the server's test-mode secret, for the subject <user-prefix>-<run-id>-<index>. The
// run id is random unless `--run-id` gives one, so that several runs can reuse the same users.
// During the hold, `--rate` create-task commands per second (0: none) are posted, spread over the
// users (command k goes to user k * 7919 mod users), each with a fresh task id. The delivery
// latency of a command runs from its 202 to the first stream message carrying that task id (0
// when the message came first). The list latency, for a sample of commands, runs from the 202 to
// the first GET /api/tasks that lists the task. With
// `--server-pid`, the server's VmRSS is sampled every 200 ms and VmHWM is read at the end. Prints
// one JSON object on stdout.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "auth/jwt.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::awaitable;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;      // GET /stream
  int api_port = 0;  // POST /api/commands and GET /api/tasks; 0: the same as `port`
  std::string secret;
  int connections = 1000;
  int users = 0;  // 0: one user per connection
  double hold_seconds = 30;
  double rate = 100;  // commands per second over all users
  int posters = 64;   // keep-alive connections posting commands
  int list_probes = 4;
  int connect_parallel = 128;
  int server_pid = 0;
  double drain_seconds = 5;
  std::string user_prefix = "sse-load";
  std::string run_id;  // the middle part of every user id, random when empty (new users per run)
};

// One posted command, keyed by its task id.
struct Tracked {
  Clock::time_point accepted;
  bool has_accepted = false;
  bool delivered = false;
};

struct ListProbe {
  std::string task_id;
  int user = 0;
  Clock::time_point accepted;
};

struct Load {
  Options options;
  asio::io_context io;
  tcp::endpoint endpoint;      // streams
  tcp::endpoint api_endpoint;  // commands and list probes
  std::vector<std::string> tokens;

  int next_connection = 0;
  int openers_running = 0;
  int opened = 0;
  int open_now = 0;
  int connect_failures = 0;
  int status_failures = 0;
  int dropped = 0;  // closed by the server or by an error while held
  int bad_frames = 0;
  bool stopping = false;
  std::vector<std::shared_ptr<beast::tcp_stream>> streams;

  int64_t next_command = 0;
  int posters_running = 0;
  int64_t sent = 0;
  int64_t accepted = 0;
  int64_t rejected = 0;
  int64_t post_errors = 0;
  int64_t delivered = 0;
  int64_t delivered_before_202 = 0;
  std::unordered_map<std::string, Tracked> tracked;
  std::vector<double> delivery_ms;

  std::deque<ListProbe> list_queue;
  bool posting_done = false;
  int probes_running = 0;
  int64_t list_timeouts = 0;
  std::vector<double> list_ms;

  int64_t rss_peak_kib = 0;
  bool sampling = true;
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string NewUuid() {
  static std::mt19937_64 random{std::random_device{}()};
  uint64_t high = random();
  uint64_t low = random();
  high = (high & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;    // RFC 4122 variant
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", unsigned(high >> 32),
                unsigned((high >> 16) & 0xffff), unsigned(high & 0xffff), unsigned(low >> 48),
                static_cast<unsigned long long>(low & 0xffffffffffffULL));
  return text;
}

// Reads one `Vm...:  N kB` field of /proc/<pid>/status; 0 when unreadable.
int64_t ProcStatusKib(int pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return 0;
}

json::object Percentiles(std::vector<double> values) {
  json::object out{{"samples", values.size()}};
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  auto at = [&](double p) {
    size_t index = static_cast<size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(index, values.size() - 1)];
  };
  out["p50_ms"] = at(50);
  out["p95_ms"] = at(95);
  out["p99_ms"] = at(99);
  out["max_ms"] = values.back();
  return out;
}

// Marks task ids carried by one stream message as delivered.
void OnMessage(Load& load, std::string_view data) {
  json::error_code ec;
  json::value message = json::parse(data, ec);
  if (ec || !message.is_object()) {
    ++load.bad_frames;
    return;
  }
  const json::object& object = message.as_object();
  const json::value* type = object.if_contains("entityType");
  const json::value* tasks = object.if_contains("data");
  if (!type || *type != "task" || !tasks || !tasks->is_array()) return;
  Clock::time_point now = Clock::now();
  for (const json::value& task : tasks->as_array()) {
    const json::value* id = task.is_object() ? task.as_object().if_contains("id") : nullptr;
    if (!id || !id->is_string()) continue;
    auto found = load.tracked.find(std::string(id->as_string()));
    if (found == load.tracked.end() || found->second.delivered) continue;
    found->second.delivered = true;
    ++load.delivered;
    if (found->second.has_accepted) {
      load.delivery_ms.push_back(Ms(now - found->second.accepted));
    } else {
      load.delivery_ms.push_back(0.0);
      ++load.delivered_before_202;
    }
  }
}

// Consumes complete frames from `pending`, passing each frame's joined data lines on.
void ConsumeFrames(Load& load, std::string& pending) {
  size_t start = 0;
  for (size_t end; (end = pending.find("\n\n", start)) != std::string::npos; start = end + 2) {
    std::string_view frame(pending.data() + start, end - start);
    std::string data;
    size_t line_start = 0;
    while (line_start <= frame.size()) {
      size_t line_end = frame.find('\n', line_start);
      if (line_end == std::string_view::npos) line_end = frame.size();
      std::string_view line = frame.substr(line_start, line_end - line_start);
      if (line.starts_with("data:")) {
        line.remove_prefix(line.starts_with("data: ") ? 6 : 5);
        if (!data.empty()) data += '\n';
        data += line;
      }
      line_start = line_end + 1;
    }
    if (!data.empty()) OnMessage(load, data);
  }
  pending.erase(0, start);
}

// Reads a stream's frames until it closes; a close before the end of the run counts as dropped.
awaitable<void> ReadStream(Load& load, std::shared_ptr<beast::tcp_stream> stream,
                           std::string pending) {
  ConsumeFrames(load, pending);
  char buffer[16384];
  for (;;) {
    beast::error_code ec;
    size_t got = co_await stream->async_read_some(asio::buffer(buffer),
                                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    pending.append(buffer, got);
    ConsumeFrames(load, pending);
  }
  --load.open_now;
  if (!load.stopping) ++load.dropped;
}

// Connects stream number `index` and reads its response head; returns false on failure.
awaitable<bool> OpenStream(Load& load, beast::tcp_stream& stream, int index, std::string& pending) {
  beast::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  stream.expires_after(std::chrono::seconds(30));
  co_await stream.async_connect(load.endpoint, token);
  if (ec) {
    ++load.connect_failures;
    co_return false;
  }

  std::string request = "GET /stream?token=" + load.tokens[index % load.tokens.size()] +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
  co_await asio::async_write(stream, asio::buffer(request), token);

  char buffer[4096];
  while (!ec && pending.find("\r\n\r\n") == std::string::npos) {
    size_t got = co_await stream.async_read_some(asio::buffer(buffer), token);
    pending.append(buffer, got);
  }
  if (ec) {
    ++load.connect_failures;
    co_return false;
  }

  if (!pending.starts_with("HTTP/1.1 200")) {
    ++load.status_failures;
    if (load.status_failures <= 3) {
      std::cerr << "stream refused: " << pending.substr(0, pending.find("\r\n")) << "\n";
    }
    co_return false;
  }
  pending.erase(0, pending.find("\r\n\r\n") + 4);
  stream.expires_never();
  co_return true;
}

awaitable<void> Opener(Load& load) {
  while (load.next_connection < load.options.connections) {
    int index = load.next_connection++;
    auto stream = std::make_shared<beast::tcp_stream>(load.io);
    std::string pending;
    if (co_await OpenStream(load, *stream, index, pending)) {
      ++load.opened;
      ++load.open_now;
      load.streams.push_back(stream);
      asio::co_spawn(load.io, ReadStream(load, stream, std::move(pending)), asio::detached);
    }
  }
  --load.openers_running;
}

// Sends one request on a keep-alive connection, connecting first when needed.
awaitable<bool> Exchange(Load& load, std::unique_ptr<beast::tcp_stream>& stream,
                         http::request<http::string_body>& request,
                         http::response<http::string_body>& response) {
  beast::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  if (!stream) {
    stream = std::make_unique<beast::tcp_stream>(load.io);
    stream->expires_after(std::chrono::seconds(10));
    co_await stream->async_connect(load.api_endpoint, token);
  }
  beast::flat_buffer buffer;
  if (!ec) {
    stream->expires_after(std::chrono::seconds(10));
    co_await http::async_write(*stream, request, token);
  }
  if (!ec) co_await http::async_read(*stream, buffer, response, token);
  if (ec || !response.keep_alive()) stream.reset();
  co_return !ec;
}

// Records a 202 and, when a list probe is free, hands the task to it.
void OnAccepted(Load& load, const std::string& task_id, int user) {
  Clock::time_point now = Clock::now();
  ++load.accepted;
  Tracked& tracked = load.tracked[task_id];
  tracked.accepted = now;
  tracked.has_accepted = true;
  if (load.list_queue.size() < static_cast<size_t>(load.options.list_probes)) {
    load.list_queue.push_back({task_id, user, now});
  }
}

awaitable<void> Sleep(Load& load, Clock::duration duration);

// Posts commands on schedule (command k is due at start + k / rate) until `end`.
awaitable<void> Poster(Load& load, Clock::time_point start, Clock::time_point end) {
  if (load.options.rate <= 0) {  // --rate 0: only hold the streams
    co_await Sleep(load, end - Clock::now());
    --load.posters_running;
    co_return;
  }
  std::unique_ptr<beast::tcp_stream> stream;
  asio::steady_timer timer(load.io);
  int users = static_cast<int>(load.tokens.size());
  for (;;) {
    int64_t k = load.next_command++;
    auto due = start + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(k / load.options.rate));
    if (due >= end) break;
    timer.expires_at(due);
    beast::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));

    int user = static_cast<int>((k * 7919) % users);
    std::string task_id = NewUuid();
    load.tracked.emplace(task_id, Tracked{});
    http::request<http::string_body> request{http::verb::post, "/api/commands", 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::authorization, "Bearer " + load.tokens[user]);
    request.set(http::field::content_type, "application/json");
    request.body() = R"([{"entityType":"task","type":"create-task","data":{"id":")" + task_id +
                     R"(","title":"sse load )" + std::to_string(k) +
                     R"(","category":"normal","order":)" + std::to_string(k) + "}}]";
    request.prepare_payload();
    http::response<http::string_body> response;
    ++load.sent;
    if (!co_await Exchange(load, stream, request, response)) {
      ++load.post_errors;
    } else if (response.result_int() == 202) {
      OnAccepted(load, task_id, user);
    } else {
      if (++load.rejected <= 3) std::cerr << "command refused: " << response.body() << "\n";
    }
  }
  --load.posters_running;
}

// Polls GET /api/tasks for sampled tasks until each appears (or 10 s pass).
awaitable<void> ListProber(Load& load) {
  std::unique_ptr<beast::tcp_stream> stream;
  asio::steady_timer timer(load.io);
  while (!load.posting_done || !load.list_queue.empty()) {
    if (load.list_queue.empty()) {
      timer.expires_after(std::chrono::milliseconds(2));
      beast::error_code ignored;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      continue;
    }
    ListProbe probe = load.list_queue.front();
    load.list_queue.pop_front();
    for (;;) {
      http::request<http::string_body> request{http::verb::get, "/api/tasks?pageSize=1000", 11};
      request.set(http::field::host, "127.0.0.1");
      request.set(http::field::authorization, "Bearer " + load.tokens[probe.user]);
      http::response<http::string_body> response;
      bool ok = co_await Exchange(load, stream, request, response);
      Clock::time_point now = Clock::now();
      if (ok && response.body().find(probe.task_id) != std::string::npos) {
        load.list_ms.push_back(Ms(now - probe.accepted));
        break;
      }
      if (now - probe.accepted > std::chrono::seconds(10)) {
        ++load.list_timeouts;
        break;
      }
    }
  }
  --load.probes_running;
}

awaitable<void> SampleMemory(Load& load) {
  asio::steady_timer timer(load.io);
  while (load.sampling && load.options.server_pid > 0) {
    load.rss_peak_kib =
        std::max(load.rss_peak_kib, ProcStatusKib(load.options.server_pid, "VmRSS"));
    timer.expires_after(std::chrono::milliseconds(200));
    beast::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

awaitable<void> Sleep(Load& load, Clock::duration duration) {
  asio::steady_timer timer(load.io, duration);
  beast::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

// Opens the streams, keeps them open while commands are posted, then closes them.
awaitable<void> Run(Load& load, json::object& report) {
  const Options& options = load.options;
  asio::co_spawn(load.io, SampleMemory(load), asio::detached);

  Clock::time_point connect_start = Clock::now();
  load.openers_running = options.connect_parallel;
  for (int i = 0; i < options.connect_parallel; ++i) {
    asio::co_spawn(load.io, Opener(load), asio::detached);
  }
  while (load.openers_running > 0) co_await Sleep(load, std::chrono::milliseconds(20));
  report["connect_seconds"] = Ms(Clock::now() - connect_start) / 1000.0;
  report["opened_after_connect"] = load.opened;
  int64_t rss_after_connect = load.rss_peak_kib;

  Clock::time_point start = Clock::now() + std::chrono::milliseconds(100);
  Clock::time_point end = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.hold_seconds));
  load.posters_running = options.posters;
  for (int i = 0; i < options.posters; ++i) {
    asio::co_spawn(load.io, Poster(load, start, end), asio::detached);
  }
  load.probes_running = options.list_probes;
  for (int i = 0; i < options.list_probes; ++i) {
    asio::co_spawn(load.io, ListProber(load), asio::detached);
  }
  while (load.posters_running > 0) co_await Sleep(load, std::chrono::milliseconds(20));
  double posting_seconds = Ms(Clock::now() - start) / 1000.0;
  load.posting_done = true;

  Clock::time_point drain_end =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(options.drain_seconds));
  while ((load.delivered < load.accepted || load.probes_running > 0) && Clock::now() < drain_end) {
    co_await Sleep(load, std::chrono::milliseconds(20));
  }
  report["held_at_end"] = load.open_now;

  load.sampling = false;
  load.stopping = true;
  for (auto& stream : load.streams) {
    beast::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
  }
  report["posting_seconds"] = posting_seconds;
  report["server_rss_after_connect_kib"] = rss_after_connect;
}

// Reads `--name value` pairs into `options`; prints the usage or the bad value and returns false.
bool ParseOptions(int argc, char** argv, Options& options) {
  using Setter = std::function<void(const std::string&)>;
  const std::map<std::string, Setter> setters = {
      {"--host", [&](const std::string& v) { options.host = v; }},
      {"--port", [&](const std::string& v) { options.port = std::stoi(v); }},
      {"--api-port", [&](const std::string& v) { options.api_port = std::stoi(v); }},
      {"--secret", [&](const std::string& v) { options.secret = v; }},
      {"--connections", [&](const std::string& v) { options.connections = std::stoi(v); }},
      {"--users", [&](const std::string& v) { options.users = std::stoi(v); }},
      {"--hold", [&](const std::string& v) { options.hold_seconds = std::stod(v); }},
      {"--rate", [&](const std::string& v) { options.rate = std::stod(v); }},
      {"--posters", [&](const std::string& v) { options.posters = std::stoi(v); }},
      {"--list-probes", [&](const std::string& v) { options.list_probes = std::stoi(v); }},
      {"--connect-parallel",
       [&](const std::string& v) { options.connect_parallel = std::stoi(v); }},
      {"--server-pid", [&](const std::string& v) { options.server_pid = std::stoi(v); }},
      {"--drain", [&](const std::string& v) { options.drain_seconds = std::stod(v); }},
      {"--user-prefix", [&](const std::string& v) { options.user_prefix = v; }},
      {"--run-id", [&](const std::string& v) { options.run_id = v; }},
  };
  bool valid = argc % 2 == 1;
  for (int i = 1; valid && i + 1 < argc; i += 2) {
    auto setter = setters.find(argv[i]);
    if (setter == setters.end()) {
      std::cerr << "unknown option " << argv[i] << "\n";
      return false;
    }
    try {
      setter->second(argv[i + 1]);
    } catch (const std::logic_error&) {  // std::invalid_argument or std::out_of_range
      std::cerr << "invalid value for " << argv[i] << ": " << argv[i + 1] << "\n";
      return false;
    }
  }
  valid = valid && options.port > 0 && options.port < 65536 && options.api_port >= 0 &&
          options.api_port < 65536 && !options.secret.empty() && options.connections > 0 &&
          options.users >= 0 && options.rate >= 0 && options.posters > 0 &&
          options.list_probes >= 0 && options.connect_parallel > 0;
  if (!valid) {
    std::cerr << "usage: sse_load --port N --secret S [--api-port N] [--connections N]\n"
                 "  [--users N] [--hold S]\n"
                 "  [--rate N] [--posters N] [--list-probes N] [--connect-parallel N]\n"
                 "  [--server-pid PID] [--drain S] [--user-prefix P] [--run-id ID]\n"
                 "  [--host 127.0.0.1]\n";
  }
  return valid;
}

// Raises the soft open-file limit to the hard limit; returns the limit now in force.
rlim_t RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

}  // namespace

int main(int argc, char** argv) {
  Load load;
  Options& options = load.options;
  if (!ParseOptions(argc, argv, options)) return 2;
  rlim_t file_limit = RaiseFileLimit();
  if (file_limit < static_cast<rlim_t>(options.connections + options.posters + 64)) {
    std::cerr << "open-file limit " << file_limit << " is too low for " << options.connections
              << " connections\n";
    return 2;
  }
  boost::system::error_code bad_host;
  asio::ip::address address = asio::ip::make_address(options.host, bad_host);
  if (bad_host) {
    std::cerr << "invalid value for --host: " << options.host << " (an IP address)\n";
    return 2;
  }
  load.endpoint = tcp::endpoint(address, static_cast<uint16_t>(options.port));
  int api_port = options.api_port > 0 ? options.api_port : options.port;
  load.api_endpoint = tcp::endpoint(address, static_cast<uint16_t>(api_port));

  int users = options.users > 0 ? options.users : options.connections;
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string run = options.run_id.empty() ? NewUuid().substr(0, 8) : options.run_id;
  for (int i = 0; i < users; ++i) {
    json::object claims{{"sub", options.user_prefix + "-" + run + "-" + std::to_string(i)},
                        {"iat", now},
                        {"exp", now + 3600}};
    load.tokens.push_back(prism::auth::SignHs256(claims, options.secret));
  }

  json::object report;
  asio::co_spawn(load.io, Run(load, report), [](std::exception_ptr error) {
    if (error) std::rethrow_exception(error);
  });
  load.io.run();

  report["connections"] = options.connections;
  report["users"] = users;
  report["opened"] = load.opened;
  report["failed"] = load.connect_failures + load.status_failures + load.dropped;
  report["connect_failures"] = load.connect_failures;
  report["status_failures"] = load.status_failures;
  report["dropped"] = load.dropped;
  report["bad_frames"] = load.bad_frames;
  report["rate"] = options.rate;
  report["hold_seconds"] = options.hold_seconds;
  report["commands_sent"] = load.sent;
  report["commands_accepted"] = load.accepted;
  report["commands_rejected"] = load.rejected;
  report["post_errors"] = load.post_errors;
  report["delivered"] = load.delivered;
  report["undelivered"] = load.accepted - load.delivered;
  report["delivered_before_202"] = load.delivered_before_202;
  report["delivery"] = Percentiles(load.delivery_ms);
  report["list"] = Percentiles(load.list_ms);
  report["list_timeouts"] = load.list_timeouts;
  report["server_rss_peak_kib"] = load.rss_peak_kib;
  if (options.server_pid > 0) {
    report["server_vmhwm_kib"] = ProcStatusKib(options.server_pid, "VmHWM");
  }
  report["client_file_limit"] = static_cast<int64_t>(file_limit);
  std::cout << json::serialize(report) << std::endl;
  return 0;
}
