#include "http/server.h"

#include <future>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/server_core.h"
#include "http/session.h"

namespace prism::http {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// After a failed accept (usually out of file descriptors) the acceptor pauses this long instead
// of spinning on the same error.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
// After the grace period, connections are closed by force. Stop then waits this long for them to
// close before it stops the I/O threads.
constexpr std::chrono::seconds kForcedCloseWait{1};

int ThreadCount(int requested) {
  if (requested > 0) return requested;
  unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}

}  // namespace

struct Server::Impl {
  using WorkGuard = net::executor_work_guard<net::io_context::executor_type>;

  void Bind();
  void DoAccept();
  void OnAccept(boost::system::error_code ec, Socket socket);
  void RunThread(net::io_context& context);
  void CloseAcceptor();

  std::shared_ptr<ServerCore> core;
  std::unique_ptr<tcp::acceptor> acceptor;         // on contexts[0]
  std::unique_ptr<net::steady_timer> retry_timer;  // on contexts[0]
  std::vector<WorkGuard> work_guards;
  std::vector<std::thread> threads;
  size_t next_context = 0;  // acceptor's thread only
  uint16_t port = 0;
  bool started = false;
  bool running = false;
};

void Server::Impl::Bind() {
  const ServerOptions& options = core->options;
  std::string where = options.address + ":" + std::to_string(options.port);
  boost::system::error_code ec;
  auto address = net::ip::make_address(options.address, ec);
  if (ec) {
    throw std::system_error(ec, "invalid listen address " + options.address);
  }

  tcp::endpoint endpoint(address, options.port);
  acceptor = std::make_unique<tcp::acceptor>(*core->contexts[0]);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec, "failed to listen on " + where);
  port = acceptor->local_endpoint().port();
  retry_timer = std::make_unique<net::steady_timer>(*core->contexts[0]);
}

void Server::Impl::DoAccept() {
  net::io_context& target = *core->contexts[next_context];
  next_context = (next_context + 1) % core->contexts.size();
  acceptor->async_accept(target, [this](boost::system::error_code ec, Socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void Server::Impl::OnAccept(boost::system::error_code ec, Socket socket) {
  if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
  if (ec) {
    core->metrics->RecordError(HttpMetrics::Error::kAcceptFailed);
    long suppressed = core->error_log_limiter.Admit("accept failed");
    if (suppressed >= 0) {
      log::Error(kLogComponent, "accept failed; retrying shortly",
                 {{"error", ec.message()}, {"suppressed", suppressed}});
    }
    retry_timer->expires_after(kAcceptRetryDelay);
    retry_timer->async_wait([this](boost::system::error_code wait_ec) {
      if (!wait_ec && acceptor->is_open()) DoAccept();
    });
    return;
  }

  boost::system::error_code option_ec;
  socket.set_option(tcp::no_delay(true), option_ec);
  auto executor = socket.get_executor();
  auto session = std::make_shared<HttpSession>(core, std::move(socket));
  core->connections.Add(session.get(), session);
  net::post(executor, [session] { session->Start(); });
  DoAccept();
}

void Server::Impl::RunThread(net::io_context& context) {
  while (true) {
    try {
      context.run();
      return;
    } catch (const std::exception& error) {
      // Handlers catch their own exceptions; this is a last line so one bug cannot stop a thread.
      log::Error(kLogComponent, "exception escaped an I/O thread handler",
                 {{"error", error.what()}});
    }
  }
}

void Server::Impl::CloseAcceptor() {
  std::promise<void> closed;
  net::post(*core->contexts[0], [this, &closed] {
    boost::system::error_code ec;
    acceptor->close(ec);
    retry_timer->cancel();
    closed.set_value();
  });
  closed.get_future().wait();
}

Server::Server(ServerOptions options, std::shared_ptr<Router> router) : impl_(new Impl) {
  impl_->core = std::make_shared<ServerCore>(std::move(options), std::move(router));
}

Server::~Server() { Stop(); }

void Server::Start() {
  if (impl_->started) throw std::logic_error("http::Server::Start called twice");
  impl_->started = true;
  ServerCore& core = *impl_->core;
  metrics::Registry& registry =
      core.options.metrics ? *core.options.metrics : metrics::Registry::Default();
  core.metrics = std::make_unique<HttpMetrics>(registry, *core.router);

  int thread_count = ThreadCount(core.options.threads);
  for (int i = 0; i < thread_count; ++i) {
    core.contexts.push_back(std::make_unique<net::io_context>(1));
  }
  impl_->Bind();
  for (auto& context : core.contexts) {
    impl_->work_guards.push_back(net::make_work_guard(*context));
  }
  for (auto& context : core.contexts) {
    impl_->threads.emplace_back([this, context = context.get()] { impl_->RunThread(*context); });
  }
  net::post(*core.contexts[0], [this] { impl_->DoAccept(); });
  impl_->running = true;
  log::Info(kLogComponent, "http server listening",
            {{"address", core.options.address}, {"port", impl_->port}, {"threads", thread_count}});
}

void Server::Stop(std::chrono::milliseconds grace) {
  if (!impl_->running) return;
  impl_->running = false;
  ServerCore& core = *impl_->core;
  core.stopping = true;

  impl_->CloseAcceptor();
  core.connections.ShutdownAll(false);
  auto deadline = std::chrono::steady_clock::now() + grace;
  if (!core.connections.WaitUntilEmpty(deadline)) {
    log::Warn(kLogComponent, "closing connections still busy after the shutdown grace period",
              {{"grace_ms", static_cast<int64_t>(grace.count())}});
    core.connections.ShutdownAll(true);
    core.connections.WaitUntilEmpty(std::chrono::steady_clock::now() + kForcedCloseWait);
  }

  core.stopped = true;
  impl_->work_guards.clear();
  for (auto& context : core.contexts) context->stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();

  // Completions of the operations cancelled above still hold their sessions (which hold the
  // core); running them here releases both.
  for (auto& context : core.contexts) {
    context->restart();
    context->poll();
  }
  log::Info(kLogComponent, "http server stopped", {{"port", impl_->port}});
}

uint16_t Server::port() const { return impl_->port; }

}  // namespace prism::http
