#include "services/decision/decision_log.h"

#include <google/protobuf/io/coded_stream.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstring>
#include <random>
#include <type_traits>
#include <utility>

#include "common/proto_time.h"

namespace llmrouter::decision {

namespace v1 = llmrouter::v1;

namespace {

// What an entry costs besides its blob: the entry in the deque and the blob's heap block.
constexpr std::size_t kEntryOverhead = sizeof(void*) * 8 + 32;

static_assert(std::is_trivially_copyable_v<PromptSnapshot>,
              "the decision log stores a PromptSnapshot as bytes");

// Reads one length-delimited field at `*at` of an encoded message when its number is `field`.
bool ReadStringField(absl::string_view encoded, std::size_t* at, uint32_t field,
                     absl::string_view* out) {
  if (*at >= encoded.size() || static_cast<uint8_t>(encoded[*at]) != ((field << 3) | 2)) {
    return false;
  }
  std::size_t i = *at + 1;
  uint64_t length = 0;
  for (int shift = 0; i < encoded.size() && shift < 35; shift += 7) {
    const uint8_t b = static_cast<uint8_t>(encoded[i++]);
    length |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      if (length > encoded.size() - i) return false;
      *out = encoded.substr(i, length);
      *at = i + length;
      return true;
    }
  }
  return false;
}

// The decision and request ids of an encoded DecisionRecord: fields 1 and 2, which generated
// code writes first (a field left out is empty).
void IdsOf(absl::string_view encoded, absl::string_view* decision_id,
           absl::string_view* request_id) {
  std::size_t at = 0;
  *decision_id = {};
  *request_id = {};
  ReadStringField(encoded, &at, 1, decision_id);
  ReadStringField(encoded, &at, 2, request_id);
}

}  // namespace

void CopyWithoutPromptText(const v1::RouteRequestRequest& from, v1::RouteRequestRequest* to,
                           const std::function<bool(absl::string_view)>* keep_header) {
  // Every field but the prompt's excerpt and last_user_message, and headers no rule reads:
  // decision_log_test checks that none is left out (through the descriptor), so a field added to
  // the request must be added here.
  to->set_model(from.model());
  to->set_tenant(from.tenant());
  to->set_priority(from.priority());
  to->set_region(from.region());
  to->set_session_key(from.session_key());
  to->set_user_key(from.user_key());
  to->mutable_headers()->clear();
  if (keep_header != nullptr) {
    for (const auto& [name, value] : from.headers()) {
      if ((*keep_header)(name)) (*to->mutable_headers())[name] = value;
    }
  }
  if (from.has_prompt()) {
    const v1::Prompt& p = from.prompt();
    v1::Prompt* q = to->mutable_prompt();
    q->clear_excerpt();
    q->clear_last_user_message();
    q->set_truncated(p.truncated());
    q->set_estimated_tokens(p.estimated_tokens());
    q->set_max_output_tokens(p.max_output_tokens());
    q->set_message_count(p.message_count());
  } else {
    to->clear_prompt();
  }
  if (from.has_constraints()) {
    to->mutable_constraints()->CopyFrom(from.constraints());
  } else {
    to->clear_constraints();
  }
  to->set_kind(from.kind());
  to->set_explain(from.explain());
  to->set_request_id(from.request_id());
  to->set_client_region(from.client_region());
}

DecisionLog::DecisionLog(DecisionLogOptions options, prometheus::Registry* registry)
    : options_(std::move(options)), replica_(options_.replica) {
  if (registry == nullptr) return;
  auto& records = prometheus::BuildGauge()
                      .Name("llmrouter_decision_log_records")
                      .Help("Decisions held in the decision log.")
                      .Register(*registry);
  records_gauge_ = &records.Add({});
  auto& bytes = prometheus::BuildGauge()
                    .Name("llmrouter_decision_log_bytes")
                    .Help("Bytes the decision log's records take, against --decision_log_bytes.")
                    .Register(*registry);
  bytes_gauge_ = &bytes.Add({});
  auto& added = prometheus::BuildCounter()
                    .Name("llmrouter_decision_log_records_total")
                    .Help(
                        "Decisions recorded in the decision log, by whether they kept their "
                        "full trace.")
                    .Register(*registry);
  added_ = &added.Add({{"trace", "false"}});
  traces_ = &added.Add({{"trace", "true"}});
  auto& evicted = prometheus::BuildCounter()
                      .Name("llmrouter_decision_log_evicted_total")
                      .Help(
                          "Records dropped from the decision log, by reason: bytes (the log "
                          "was full) or age (older than --decision_log_max_age_s).")
                      .Register(*registry);
  evicted_bytes_ = &evicted.Add({{"reason", "bytes"}});
  evicted_age_ = &evicted.Add({{"reason", "age"}});
}

void DecisionLog::set_replica(std::string replica) {
  absl::MutexLock lock(&mu_);
  replica_ = std::move(replica);
}

bool DecisionLog::SampleTrace() const {
  if (options_.trace_sample <= 0) return false;
  if (options_.trace_sample >= 1) return true;
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0, 1)(rng) < options_.trace_sample;
}

void DecisionLog::Add(absl::Time at, const v1::RouteRequestRequest& request,
                      const absl::Status& status, const v1::RouteRequestResponse& response,
                      const PromptSnapshot& prompt, absl::string_view decision_id,
                      const std::function<bool(absl::string_view)>* keep_header) {
  if (!enabled()) return;
  // The record is written field by field into one buffer, without copying the answer: its
  // envelope (ids first, for lookups), the request without its text, the answer as it is.
  // Messages this thread reuses hold the parts that are copied, so that steady state allocates
  // only the buffer.
  thread_local v1::DecisionRecord envelope;
  envelope.Clear();
  envelope.set_decision_id(decision_id.data(), decision_id.size());
  envelope.set_request_id(request.request_id());
  ToProto(at, envelope.mutable_time());
  envelope.set_status_code(static_cast<int32_t>(status.code()));
  envelope.set_status_message(status.message().data(), status.message().size());
  envelope.set_trace_kept(response.has_trace());
  thread_local v1::RouteRequestRequest asked;
  CopyWithoutPromptText(request, &asked, keep_header);

  using google::protobuf::io::CodedOutputStream;
  const std::size_t envelope_size = envelope.ByteSizeLong();
  const std::size_t asked_size = asked.ByteSizeLong();
  const std::size_t answer_size = response.ByteSizeLong();
  Entry entry;
  entry.at = at;
  entry.record_size = envelope_size + 2 + asked_size + answer_size +
                      CodedOutputStream::VarintSize64(asked_size) +
                      CodedOutputStream::VarintSize64(answer_size);
  entry.blob.resize(entry.record_size + sizeof(PromptSnapshot));
  uint8_t* out = reinterpret_cast<uint8_t*>(entry.blob.data());
  out = envelope.SerializeWithCachedSizesToArray(out);
  *out++ = (v1::DecisionRecord::kRequestFieldNumber << 3) | 2;  // length-delimited
  out = CodedOutputStream::WriteVarint64ToArray(asked_size, out);
  out = asked.SerializeWithCachedSizesToArray(out);
  *out++ = (v1::DecisionRecord::kResponseFieldNumber << 3) | 2;
  out = CodedOutputStream::WriteVarint64ToArray(answer_size, out);
  out = response.SerializeWithCachedSizesToArray(out);
  std::memcpy(out, &prompt, sizeof(PromptSnapshot));
  entry.bytes = entry.blob.size() + kEntryOverhead;
  if (entry.bytes > options_.max_bytes) return;  // it would evict everything and not fit
  if (prometheus::Counter* counter = response.has_trace() ? traces_ : added_) {
    counter->Increment();
  }

  absl::MutexLock lock(&mu_);
  entry.seq = next_seq_++;
  bytes_ += entry.bytes;
  entries_.push_back(std::move(entry));
  EvictLocked(at);
  UpdateGaugesLocked();
}

void DecisionLog::PopFrontLocked(prometheus::Counter* reason) {
  bytes_ -= entries_.front().bytes;
  if (reason != nullptr) reason->Increment();
  entries_.pop_front();
}

void DecisionLog::EvictLocked(absl::Time now) {
  while (!entries_.empty() && bytes_ > options_.max_bytes) PopFrontLocked(evicted_bytes_);
  while (!entries_.empty() && now - entries_.front().at > options_.max_age) {
    PopFrontLocked(evicted_age_);
  }
}

void DecisionLog::UpdateGaugesLocked() {
  if (records_gauge_ != nullptr) records_gauge_->Set(static_cast<double>(entries_.size()));
  if (bytes_gauge_ != nullptr) bytes_gauge_->Set(static_cast<double>(bytes_));
}

std::optional<LoggedDecision> DecisionLog::Find(absl::string_view id, absl::Time now) {
  if (id.empty()) return std::nullopt;
  LoggedDecision found;
  std::string blob, replica;
  std::size_t record_size = 0;
  {
    absl::MutexLock lock(&mu_);
    EvictLocked(now);
    UpdateGaugesLocked();
    // A decision id first; else the newest decision for the request id.
    const Entry* by_request = nullptr;
    const Entry* match = nullptr;
    for (auto it = entries_.rbegin(); it != entries_.rend() && match == nullptr; ++it) {
      absl::string_view decision_id, request_id;
      IdsOf(absl::string_view(it->blob.data(), it->record_size), &decision_id, &request_id);
      if (decision_id == id) match = &*it;
      if (by_request == nullptr && request_id == id) by_request = &*it;
    }
    if (match == nullptr) match = by_request;
    if (match == nullptr) return std::nullopt;
    blob = match->blob;
    record_size = match->record_size;
    replica = replica_;
  }
  if (!found.record.ParseFromArray(blob.data(), static_cast<int>(record_size))) {
    return std::nullopt;
  }
  std::memcpy(&found.prompt, blob.data() + record_size, sizeof(PromptSnapshot));
  found.record.set_replica(std::move(replica));
  return found;
}

std::size_t DecisionLog::records() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

std::size_t DecisionLog::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace llmrouter::decision
