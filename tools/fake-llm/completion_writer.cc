#include "tools/fake-llm/completion_writer.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <iterator>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace llmrouter {

namespace {

// Plain ASCII so that no token ever needs JSON escaping.
constexpr std::string_view kWords[] = {
    "the",   "quick", "brown",  "fox",    "jumps", "over",   "a",      "lazy",
    "dog",   "while", "models", "route",  "every", "prompt", "to",     "the",
    "right", "place", "fast",   "and",    "cheap", "with",   "tokens", "that",
    "flow",  "like",  "water",  "across", "many",  "busy",   "nodes",  "today"};

void AppendInt(std::string* out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void AppendUsage(std::string* out, int prompt_tokens, int completion_tokens) {
  out->append("{\"prompt_tokens\":");
  AppendInt(out, prompt_tokens);
  out->append(",\"completion_tokens\":");
  AppendInt(out, completion_tokens);
  out->append(",\"total_tokens\":");
  AppendInt(out, prompt_tokens + completion_tokens);
  out->push_back('}');
}

std::string_view FinishReason(const CompletionMeta& meta) {
  return meta.truncated ? "\"length\"" : "\"stop\"";
}

std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

CompletionWriter::CompletionWriter(const FakeLlmOptions& options) : seed_(options.seed) {
  token_end_.push_back(0);
  for (int i = 0; i < options.completion_tokens; ++i) {
    if (i > 0) content_.push_back(' ');
    content_.append(kWords[i % std::size(kWords)]);
    token_end_.push_back(static_cast<int>(content_.size()));
  }
  const std::int64_t created = std::time(nullptr);
  models_json_ = "{\"object\":\"list\",\"data\":[";
  for (const std::string& model : options.models) {
    model_names_.push_back(model);
    model_fields_.push_back(absl::StrCat(
        ",\"model\":\"", model, "\",\"system_fingerprint\":\"fake-llm:", options.backend_name(),
        "\",\"choices\":"));
    if (model_names_.size() > 1) models_json_.push_back(',');
    absl::StrAppend(&models_json_, "{\"id\":\"", model,
                    "\",\"object\":\"model\",\"created\":", created,
                    ",\"owned_by\":\"fake-llm\",\"root\":\"", model, "\",\"parent\":null}");
  }
  models_json_.append("]}");
}

void CompletionWriter::WriteCompletion(InferenceApi api, const CompletionMeta& meta,
                                       std::string* out) const {
  const bool chat = api == InferenceApi::kChatCompletions;
  out->clear();
  out->append("{\"id\":\"").append(meta.id);
  out->append(chat ? "\",\"object\":\"chat.completion\",\"created\":"
                   : "\",\"object\":\"text_completion\",\"created\":");
  AppendInt(out, meta.created);
  out->append(model_fields_[meta.model_index]);
  out->append(chat ? "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\""
                   : "[{\"index\":0,\"text\":\"");
  out->append(Content(meta.completion_tokens));
  out->append(chat ? "\"},\"logprobs\":null,\"finish_reason\":"
                   : "\",\"logprobs\":null,\"finish_reason\":");
  out->append(FinishReason(meta));
  out->append("}],\"usage\":");
  AppendUsage(out, meta.prompt_tokens, meta.completion_tokens);
  out->push_back('}');
}

void CompletionWriter::WriteEmbeddings(const InferenceRequest& req, std::string* out) const {
  out->clear();
  out->append("{\"object\":\"list\",\"data\":[");
  for (std::size_t i = 0; i < req.input_hashes.size(); ++i) {
    // A unit vector derived from the input alone: equal inputs embed equally.
    float v[kEmbeddingDims];
    double norm = 0;
    for (int d = 0; d < kEmbeddingDims; ++d) {
      std::uint64_t x = SplitMix64(req.input_hashes[i] ^ SplitMix64(seed_ + d));
      v[d] = static_cast<float>(static_cast<double>(x >> 11) / 4503599627370496.0 - 1.0);
      norm += static_cast<double>(v[d]) * v[d];
    }
    norm = norm > 0 ? std::sqrt(norm) : 1;
    for (float& x : v) x = static_cast<float>(x / norm);
    if (i) out->push_back(',');
    out->append("{\"object\":\"embedding\",\"index\":");
    AppendInt(out, static_cast<std::int64_t>(i));
    out->append(",\"embedding\":");
    if (req.base64) {
      // Little-endian float32s, as the OpenAI SDKs decode them.
      char raw[sizeof v];
      std::memcpy(raw, v, sizeof v);
      out->push_back('"');
      out->append(absl::Base64Escape(absl::string_view(raw, sizeof raw)));
      out->push_back('"');
    } else {
      out->push_back('[');
      for (int d = 0; d < kEmbeddingDims; ++d) {
        if (d) out->push_back(',');
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, v[d]);
        out->append(buf, r.ptr);
      }
      out->push_back(']');
    }
    out->push_back('}');
  }
  out->append("],\"model\":\"").append(model_names_[req.model_index]);
  out->append("\",\"usage\":{\"prompt_tokens\":");
  AppendInt(out, req.prompt_tokens);
  out->append(",\"total_tokens\":");
  AppendInt(out, req.prompt_tokens);
  out->append("}}");
}

CompletionWriter::StreamEvents::StreamEvents(const CompletionWriter& writer, InferenceApi api,
                                             const CompletionMeta& meta)
    : writer_(writer), chat_(api == InferenceApi::kChatCompletions), meta_(meta) {
  buf_.reserve(320);
  buf_.append("data: {\"id\":\"").append(meta.id);
  buf_.append(chat_ ? "\",\"object\":\"chat.completion.chunk\",\"created\":"
                    : "\",\"object\":\"text_completion\",\"created\":");
  AppendInt(&buf_, meta.created);
  buf_.append(writer.model_fields_[meta.model_index]);
  head_size_ = buf_.size();
}

std::string_view CompletionWriter::StreamEvents::Event(std::string_view a, std::string_view b,
                                                       std::string_view c) {
  buf_.resize(head_size_);
  buf_.append(a).append(b).append(c);
  return buf_;
}

std::string_view CompletionWriter::StreamEvents::First() {
  if (!chat_) return {};
  return Event(
      "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
      "\"finish_reason\":null}]}\n\n");
}

std::string_view CompletionWriter::StreamEvents::TokenEvent(int i) {
  return Event(chat_ ? "[{\"index\":0,\"delta\":{\"content\":\"" : "[{\"index\":0,\"text\":\"",
               writer_.Token(i),
               chat_ ? "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
                     : "\",\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}

std::string_view CompletionWriter::StreamEvents::Finish() {
  return Event(chat_ ? "[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":"
                     : "[{\"index\":0,\"text\":\"\",\"logprobs\":null,\"finish_reason\":",
               FinishReason(meta_), "}]}\n\n");
}

std::string_view CompletionWriter::StreamEvents::Usage() {
  buf_.resize(head_size_);
  buf_.append("[],\"usage\":");
  AppendUsage(&buf_, meta_.prompt_tokens, meta_.completion_tokens);
  buf_.append("}\n\n");
  return buf_;
}

}  // namespace llmrouter
