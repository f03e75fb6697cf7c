// Boost 1.74's coroutine headers need <utility> first with g++ 12.
// clang-format off
#include <utility>
// clang-format on

#include "services/inventory/backend_prober.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/coroutine_failure.h"
#include "common/logging.h"
#include "services/inventory/prometheus_text.h"

namespace llmrouter::inventory {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

constexpr size_t kMaxBodyBytes = 8 << 20;

struct FetchResult {
  unsigned status = 0;
  std::string body;
};

// "host:port" or "[v6]:port".
std::pair<std::string, std::string> SplitAddress(const std::string& address) {
  size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, address.substr(colon + 1)};
}

// One GET on a fresh connection, all of it within `timeout` (name resolution aside).
asio::awaitable<absl::StatusOr<FetchResult>> Fetch(std::string address, std::string target,
                                                   absl::Duration timeout) {
  auto executor = co_await asio::this_coro::executor;
  auto [host, port] = SplitAddress(address);
  boost::system::error_code ec;
  tcp::resolver resolver(executor);
  auto results =
      co_await resolver.async_resolve(host, port, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return absl::UnavailableError(absl::StrCat("resolve: ", ec.message()));
  beast::tcp_stream stream(executor);
  stream.expires_after(std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  co_await stream.async_connect(results, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return absl::UnavailableError(
        absl::StrCat("connect: ", ec == beast::error::timeout ? "timeout" : ec.message()));
  }
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, address);
  req.set(http::field::user_agent, "llm-router-inventory");
  req.set(http::field::connection, "close");
  co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return absl::UnavailableError(absl::StrCat("write: ", ec.message()));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBodyBytes);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return absl::UnavailableError(
        absl::StrCat("read: ", ec == beast::error::timeout ? "timeout" : ec.message()));
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  FetchResult out;
  out.status = parser.get().result_int();
  out.body = std::move(parser.get().body());
  co_return out;
}

}  // namespace

struct BackendProber::Impl {
  Impl(EndpointRegistry& r, HealthMonitor& m, HealthConfig c, absl::Duration t, InventoryMetrics& x,
       const Clock& k)
      : registry(r), monitor(m), config(std::move(c)), tick(t), metrics(x), clock(k) {}

  asio::awaitable<void> Loop() {
    asio::steady_timer timer(io);
    boost::system::error_code ec;
    while (true) {
      Tick();
      timer.expires_after(std::chrono::milliseconds(absl::ToInt64Milliseconds(tick)));
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
    }
  }

  void Tick() {
    SnapshotPtr snap = registry.Snapshot();
    registry.ApplyLive(monitor.Evaluate(snap->snapshot()));
    // Ejections happen as outcome reports arrive; the counter catches up once per tick.
    const int64_t ejected = monitor.ejections();
    if (ejected > ejections_counted) metrics.ejections.Increment(ejected - ejections_counted);
    ejections_counted = ejected;
    const absl::Time now = clock.Now();
    absl::flat_hash_set<std::string> present;
    for (const auto& e : snap->snapshot().endpoints()) {
      present.insert(e.id());
      ProbeSettings probe = ResolveProbe(config.probe, e.health_check());
      if (probe.disabled || e.scheme() != "http") continue;
      if (now >= next_probe[e.id()] && probe_in_flight.insert(e.id()).second) {
        next_probe[e.id()] = now + probe.interval;
        asio::co_spawn(io, ProbeOne(e.id(), e.address(), probe), LogIfThrown("health_probe"));
      }
      if (now >= next_scrape[e.id()] && scrape_in_flight.insert(e.id()).second) {
        next_scrape[e.id()] = now + config.scrape_interval;
        asio::co_spawn(io, ScrapeOne(e.id(), e.address(), probe), LogIfThrown("metrics_scrape"));
      }
    }
    absl::erase_if(next_probe, [&](const auto& kv) { return !present.contains(kv.first); });
    absl::erase_if(next_scrape, [&](const auto& kv) { return !present.contains(kv.first); });
  }

  asio::awaitable<void> ProbeOne(std::string id, std::string address, ProbeSettings probe) {
    absl::StatusOr<FetchResult> r = co_await Fetch(address, probe.path, probe.timeout);
    probe_in_flight.erase(id);
    bool ok = r.ok() && r->status >= 200 && r->status < 300;
    std::string detail = !r.ok() ? std::string(r.status().message())
                                 : absl::StrCat("GET ", probe.path, " answered ", r->status);
    metrics.probes.Add({{"result", ok ? "success" : "failure"}}).Increment();
    if (!ok) spdlog::debug("probe_failed endpoint={} detail=\"{}\"", id, detail);
    monitor.RecordProbe(id, probe, ok, detail);
  }

  asio::awaitable<void> ScrapeOne(std::string id, std::string address, ProbeSettings probe) {
    absl::StatusOr<FetchResult> r = co_await Fetch(address, probe.metrics_path, probe.timeout);
    scrape_in_flight.erase(id);
    absl::StatusOr<ScrapedLoad> load;
    if (!r.ok()) {
      load = r.status();
    } else if (r->status != 200) {
      load = absl::UnavailableError(absl::StrCat("metrics answered ", r->status));
    } else {
      load = ExtractLoad(ParsePrometheusText(r->body), config.load_metrics);
      if (load->empty()) load = absl::NotFoundError("no mapped load metric in the scrape");
    }
    const char* result = load.ok()                    ? "success"
                         : r.ok() && r->status == 200 ? "unmapped"
                                                      : "failure";
    metrics.scrapes.Add({{"result", result}}).Increment();
    monitor.RecordScrape(id, load);
  }

  EndpointRegistry& registry;
  HealthMonitor& monitor;
  const HealthConfig config;
  const absl::Duration tick;
  InventoryMetrics& metrics;
  const Clock& clock;
  asio::io_context io{1};
  std::thread thread;
  // Touched only on the io thread.
  absl::flat_hash_map<std::string, absl::Time> next_probe, next_scrape;
  absl::flat_hash_set<std::string> probe_in_flight, scrape_in_flight;
  int64_t ejections_counted = 0;
};

BackendProber::BackendProber(EndpointRegistry& registry, HealthMonitor& monitor,
                             HealthConfig config, absl::Duration tick, InventoryMetrics& metrics,
                             const Clock& clock)
    : impl_(std::make_unique<Impl>(registry, monitor, std::move(config), tick, metrics, clock)) {}

BackendProber::~BackendProber() { Stop(); }

void BackendProber::Start() {
  asio::co_spawn(impl_->io, impl_->Loop(), LogIfThrown("prober_loop"));
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

void BackendProber::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace llmrouter::inventory
