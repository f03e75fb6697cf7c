#include "services/gateway/access_log.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/openai_error.h"

namespace llmrouter::gateway {

namespace {

void AppendField(std::string* out, std::string_view name, std::string_view value) {
  absl::StrAppend(out, ",\"", absl::string_view(name.data(), name.size()), "\":");
  AppendJsonString(out, value);
}

// "2026-12-07T04:33:20.123Z", with the part up to the second formatted once a second per thread.
void AppendTime(std::string* out, absl::Time t) {
  thread_local int64_t cached_second = -1;
  thread_local std::string cached;
  const int64_t ms = absl::ToUnixMillis(t);
  const int64_t second = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  if (second != cached_second) {
    cached =
        absl::FormatTime("%Y-%m-%dT%H:%M:%S.", absl::FromUnixSeconds(second), absl::UTCTimeZone());
    cached_second = second;
  }
  const int64_t milli = ms - second * 1000;
  absl::StrAppend(out, "\"", cached, milli < 100 ? "0" : "", milli < 10 ? "0" : "", milli, "Z\"");
}

// `value` with three decimals, without printf.
void AppendMillis(std::string* out, double value) {
  const int64_t thousandths = static_cast<int64_t>(value * 1000 + 0.5);
  const int64_t frac = thousandths % 1000;
  absl::StrAppend(out, thousandths / 1000, ".", frac < 100 ? "0" : "", frac < 10 ? "0" : "", frac);
}

constexpr std::size_t kBatchLines = 256;
constexpr absl::Duration kFlushInterval = absl::Milliseconds(20);

}  // namespace

std::string AccessLogLine(const AccessLogEntry& e) {
  static const RequestRecord kNone;
  const RequestRecord& r = e.record != nullptr ? *e.record : kNone;
  std::string out;
  out.reserve(512);
  out.append("{\"time\":");
  AppendTime(&out, e.time);
  AppendField(&out, "request_id", e.request_id);
  AppendField(&out, "trace_id",
              e.traceparent.size() >= 35 ? e.traceparent.substr(3, 32) : std::string_view());
  AppendField(&out, "route", e.route);
  AppendField(&out, "tenant", r.tenant);
  AppendField(&out, "model", r.requested_model);
  AppendField(&out, "routed_model", r.routed_model);
  AppendField(&out, "endpoint", r.endpoint);
  AppendField(&out, "track", r.track);
  AppendField(&out, "decision_id", r.decision_id);
  AppendField(&out, "rule", r.rule);
  AppendField(&out, "policy", r.policy);
  absl::StrAppend(&out, ",\"status\":", e.status, ",\"attempts\":", r.attempts);
  out.append(",\"ttft_ms\":");
  AppendMillis(&out, r.ttft_seconds * 1e3);
  out.append(",\"duration_ms\":");
  AppendMillis(&out, e.seconds * 1e3);
  absl::StrAppend(&out, ",\"prompt_tokens\":", r.prompt_tokens,
                  ",\"completion_tokens\":", r.completion_tokens);
  absl::StrAppend(&out, ",\"estimated_cost_usd\":", r.estimated_cost_usd);
  absl::StrAppend(&out, ",\"request_bytes\":", e.request_bytes,
                  ",\"response_bytes\":", r.response_bytes,
                  ",\"stream\":", r.stream ? "true" : "false", "}");
  return out;
}

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Open(AccessLogOptions options,
                                                           prometheus::Registry& registry) {
  if (!(options.sample >= 0 && options.sample <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the access log's sample must be from 0 to 1, not ", options.sample));
  }
  std::FILE* out = stdout;
  bool owned = false;
  if (options.destination != "-" && options.destination != "stdout") {
    out = std::fopen(options.destination.c_str(), "a");
    if (out == nullptr) {
      return absl::NotFoundError(absl::StrCat("cannot open the access log ", options.destination,
                                              ": ", std::strerror(errno)));
    }
    owned = true;
  }
  return std::unique_ptr<AccessLog>(new AccessLog(std::move(options), out, owned, registry));
}

AccessLog::AccessLog(AccessLogOptions options, std::FILE* out, bool owned,
                     prometheus::Registry& registry)
    : options_(std::move(options)),
      out_(out),
      owned_(owned),
      lines_(prometheus::BuildCounter()
                 .Name("llmrouter_gateway_access_log_lines_total")
                 .Help("Access log lines, by result (written, dropped: the queue was full)")
                 .Register(registry)),
      written_(lines_.Add({{"result", "written"}})),
      dropped_(lines_.Add({{"result", "dropped"}})) {
  thread_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  if (owned_) std::fclose(out_);
}

bool AccessLog::Sampled() const {
  if (options_.sample >= 1) return true;
  if (options_.sample <= 0) return false;
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0, 1)(rng) < options_.sample;
}

void AccessLog::Write(std::string line) {
  line.push_back('\n');
  {
    absl::MutexLock lock(&mu_);
    if (queue_.size() < options_.queue) {
      queue_.push_back(std::move(line));
      return;
    }
  }
  dropped_.Increment();
}

void AccessLog::Run() {
  std::vector<std::string> batch;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // Woken by a batch's worth of lines, else every kFlushInterval: not once per request,
      // which would cost the workers a wake-up (a futex call) each.
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](AccessLog* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
                                 return self->queue_.size() >= kBatchLines || self->stopping_;
                               },
                               this),
                           kFlushInterval);
      if (queue_.empty() && !stopping_) continue;
      if (queue_.empty() && stopping_) break;
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    for (const std::string& line : batch) std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
    written_.Increment(static_cast<double>(batch.size()));
    batch.clear();
  }
}

}  // namespace llmrouter::gateway
