#include "tools/fake-llm/inference_request.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "simdjson.h"

namespace llmrouter {

namespace {

namespace dom = simdjson::dom;

absl::Status BadRequest(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), " ", std::string(what)));
}

int TokensForBytes(std::size_t bytes) { return static_cast<int>((bytes + 3) / 4); }

// Sums the text of chat messages: content is a string or an array of {"type":"text","text"}
// parts; other parts (images) count nothing.
absl::Status CountMessages(dom::element messages, std::size_t* bytes) {
  dom::array arr;
  if (messages.get_array().get(arr) || arr.size() == 0) {
    return BadRequest("messages", "must be a non-empty array");
  }
  for (dom::element m : arr) {
    dom::object msg;
    if (m.get_object().get(msg)) return BadRequest("messages", "items must be objects");
    dom::element content;
    if (msg["content"].get(content)) continue;  // e.g. an assistant message with tool calls
    std::string_view text;
    if (!content.get_string().get(text)) {
      *bytes += text.size();
      continue;
    }
    dom::array parts;
    if (content.get_array().get(parts)) {
      if (content.is_null()) continue;
      return BadRequest("messages[].content", "must be a string, an array or null");
    }
    for (dom::element part : parts) {
      if (!part["text"].get_string().get(text)) *bytes += text.size();
    }
  }
  return absl::OkStatus();
}

// A prompt or embeddings input: a string, an array of strings, an array of token ids or an
// array of arrays of token ids. Appends one hash per input when `hashes` is set.
absl::Status CountInputs(std::string_view field, dom::element input, int* tokens,
                         absl::InlinedVector<std::uint64_t, 4>* hashes) {
  std::string_view text;
  if (!input.get_string().get(text)) {
    *tokens += TokensForBytes(text.size());
    if (hashes) hashes->push_back(Fnv1a64(text));
    return absl::OkStatus();
  }
  dom::array arr;
  if (input.get_array().get(arr) || arr.size() == 0) {
    return BadRequest(field, "must be a string or a non-empty array");
  }
  auto token_ids = [&](dom::array ids) -> bool {
    std::uint64_t h = Fnv1a64("ids");
    for (dom::element id : ids) {
      std::int64_t v;
      if (id.get_int64().get(v)) return false;
      char raw[sizeof v];
      std::memcpy(raw, &v, sizeof v);
      h = Fnv1a64(std::string_view(raw, sizeof raw), h);
    }
    *tokens += static_cast<int>(ids.size());
    if (hashes) hashes->push_back(h);
    return true;
  };
  if ((*arr.begin()).is_int64()) {
    if (!token_ids(arr)) return BadRequest(field, "mixes token ids with other values");
    return absl::OkStatus();
  }
  for (dom::element item : arr) {
    dom::array ids;
    if (!item.get_string().get(text)) {
      *tokens += TokensForBytes(text.size());
      if (hashes) hashes->push_back(Fnv1a64(text));
    } else if (item.get_array().get(ids) || !token_ids(ids)) {
      return BadRequest(field, "items must be strings or arrays of token ids");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadMaxTokens(std::string_view field, dom::element value, int* max_tokens) {
  if (value.is_null()) return absl::OkStatus();
  std::int64_t v;
  if (value.get_int64().get(v) || v < 1) return BadRequest(field, "must be an integer >= 1");
  *max_tokens = static_cast<int>(std::min<std::int64_t>(v, 1 << 30));
  return absl::OkStatus();
}

}  // namespace

std::uint64_t Fnv1a64(std::string_view bytes, std::uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

absl::StatusOr<InferenceRequest> ParseInferenceRequest(
    InferenceApi api, std::string_view body, const std::vector<std::string>& served_models) {
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: parse from a padded copy that
  // each thread keeps, instead of letting simdjson allocate one per call.
  thread_local dom::parser parser;
  thread_local std::string padded;
  if (padded.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    padded.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  padded.assign(body.data(), body.size());
  dom::element doc;
  if (auto err = parser.parse(padded.data(), padded.size(), false).get(doc)) {
    return absl::InvalidArgumentError(
        absl::StrCat("request body is not valid JSON: ", simdjson::error_message(err)));
  }
  dom::object obj;
  if (doc.get_object().get(obj))
    return absl::InvalidArgumentError("request body must be a JSON object");

  InferenceRequest req;
  bool has_model = false, has_input = false;
  std::size_t text_bytes = 0;
  const std::string_view input_field = api == InferenceApi::kChatCompletions ? "messages"
                                       : api == InferenceApi::kCompletions   ? "prompt"
                                                                             : "input";
  for (dom::key_value_pair field : obj) {
    std::string_view key = field.key;
    dom::element value = field.value;
    if (key == "model") {
      std::string_view model;
      if (value.get_string().get(model)) return BadRequest("model", "must be a string");
      auto it = std::find(served_models.begin(), served_models.end(), model);
      if (it == served_models.end()) {
        return absl::NotFoundError(
            absl::StrCat("The model `", std::string(model), "` does not exist."));
      }
      req.model_index = static_cast<int>(it - served_models.begin());
      has_model = true;
    } else if (key == input_field) {
      has_input = true;
      absl::Status s =
          api == InferenceApi::kChatCompletions
              ? CountMessages(value, &text_bytes)
              : CountInputs(key, value, &req.prompt_tokens,
                            api == InferenceApi::kEmbeddings ? &req.input_hashes : nullptr);
      if (!s.ok()) return s;
    } else if (api == InferenceApi::kEmbeddings) {
      if (key != "encoding_format" || value.is_null()) continue;
      std::string_view format;
      if (value.get_string().get(format) || (format != "float" && format != "base64")) {
        return BadRequest(key, "must be \"float\" or \"base64\"");
      }
      req.base64 = format == "base64";
    } else if (key == "stream") {
      if (value.is_null()) continue;
      if (value.get_bool().get(req.stream)) return BadRequest(key, "must be a boolean");
    } else if (key == "stream_options") {
      if (value.is_null()) continue;
      dom::element include;
      if (!value.is_object()) return BadRequest(key, "must be an object");
      if (!value["include_usage"].get(include) && !include.is_null() &&
          include.get_bool().get(req.include_usage)) {
        return BadRequest("stream_options.include_usage", "must be a boolean");
      }
    } else if (key == "max_tokens" || key == "max_completion_tokens") {
      absl::Status s = ReadMaxTokens(key, value, &req.max_tokens);
      if (!s.ok()) return s;
    }
  }
  if (!has_model) return absl::InvalidArgumentError("model is a required property");
  if (!has_input) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(input_field), " is a required property"));
  }
  if (api == InferenceApi::kChatCompletions) req.prompt_tokens = TokensForBytes(text_bytes);
  req.prompt_tokens = std::max(req.prompt_tokens, 1);
  return req;
}

}  // namespace llmrouter
