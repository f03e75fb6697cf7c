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
#include "absl/strings/str_format.h"
#include "common/openai_error.h"

namespace llmrouter::gateway {

namespace {

void AppendField(std::string* out, std::string_view name, std::string_view value) {
  absl::StrAppend(out, ",\"", absl::string_view(name.data(), name.size()), "\":");
  AppendJsonString(out, value);
}

}  // namespace

std::string AccessLogLine(const AccessLogEntry& e) {
  static const RequestRecord kNone;
  const RequestRecord& r = e.record != nullptr ? *e.record : kNone;
  std::string out = "{\"time\":";
  AppendJsonString(&out, absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", e.time, absl::UTCTimeZone()));
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
  absl::StrAppend(&out, absl::StrFormat(",\"ttft_ms\":%.3f,\"duration_ms\":%.3f",
                                        r.ttft_seconds * 1e3, e.seconds * 1e3));
  absl::StrAppend(&out, ",\"prompt_tokens\":", r.prompt_tokens,
                  ",\"completion_tokens\":", r.completion_tokens);
  absl::StrAppend(&out, absl::StrFormat(",\"estimated_cost_usd\":%.8f", r.estimated_cost_usd));
  absl::StrAppend(&out, ",\"request_bytes\":", e.request_bytes,
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
      mu_.Await(absl::Condition(
          +[](AccessLog* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return !self->queue_.empty() || self->stopping_;
          },
          this));
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
