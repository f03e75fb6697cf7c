#include "services/gateway/request_inspector.h"

#include <algorithm>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/openai_error.h"
#include "common/utf8.h"

namespace llmrouter::gateway {

namespace ondemand = simdjson::ondemand;

namespace {

absl::Status Malformed(simdjson::error_code e) {
  return absl::InvalidArgumentError(
      absl::StrCat("request body is not valid JSON: ", simdjson::error_message(e)));
}

absl::Status WrongType(const char* field, const char* expected) {
  return absl::InvalidArgumentError(absl::StrCat("\"", field, "\" must be ", expected));
}

// The JSON type of `value`, or an error status for a malformed token.
absl::StatusOr<ondemand::json_type> TypeOf(ondemand::value& value) {
  ondemand::json_type type;
  if (auto e = value.type().get(type)) return Malformed(e);
  return type;
}

// Reads a boolean that may also be null (false).
absl::Status ReadBool(ondemand::value value, const char* field, bool* out) {
  auto type = TypeOf(value);
  if (!type.ok()) return type.status();
  if (*type == ondemand::json_type::null) return absl::OkStatus();
  if (*type != ondemand::json_type::boolean) return WrongType(field, "a boolean");
  if (auto e = value.get_bool().get(*out)) return Malformed(e);
  return absl::OkStatus();
}

// Reads a non-negative integer that may also be null (absent), clamped to 32 bits.
absl::Status ReadTokenCount(ondemand::value value, const char* field, bool* present,
                            uint32_t* out) {
  auto type = TypeOf(value);
  if (!type.ok()) return type.status();
  if (*type == ondemand::json_type::null) return absl::OkStatus();
  uint64_t n = 0;
  if (*type != ondemand::json_type::number || value.get_uint64().get(n)) {
    return WrongType(field, "a non-negative integer");
  }
  *present = true;
  *out = static_cast<uint32_t>(std::min<uint64_t>(n, std::numeric_limits<uint32_t>::max()));
  return absl::OkStatus();
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

RequestInspector::RequestInspector(RequestInspectorOptions options) : options_(options) {}

absl::StatusOr<InspectedRequest> RequestInspector::Inspect(std::string_view body) {
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; a copy into a buffer kept between
  // calls is cheaper than an allocation per request.
  if (scratch_.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    scratch_.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  scratch_.assign(body.data(), body.size());
  simdjson::padded_string_view padded(scratch_.data(), scratch_.size(), scratch_.capacity());

  ondemand::document doc;
  if (auto e = parser_.iterate(padded).get(doc)) return Malformed(e);
  ondemand::json_type root_type;
  if (auto e = doc.type().get(root_type)) return Malformed(e);
  if (root_type != ondemand::json_type::object) {
    return absl::InvalidArgumentError("request body must be a JSON object");
  }
  ondemand::object object;
  if (auto e = doc.get_object().get(object)) return Malformed(e);
  InspectedRequest out;
  tokens_ = PromptTokenCounter();
  capturing_ = false;
  if (absl::Status s = ReadTopLevel(object, scratch_.data(), &out); !s.ok()) return s;
  // Anything after the object's closing brace makes the body invalid JSON.
  const char* after = nullptr;
  if (doc.current_location().get(after) == simdjson::SUCCESS) {
    return absl::InvalidArgumentError("request body is not valid JSON: content after the object");
  }
  if (out.model_token_size == 0) {
    return absl::InvalidArgumentError("missing required field \"model\"");
  }
  if (out.model.empty()) return absl::InvalidArgumentError("\"model\" must not be empty");
  uint64_t tokens = tokens_.Total();
  if (out.message_count > 0) {
    tokens += uint64_t{kChatTokensPerMessage} * out.message_count + kChatReplyTokens;
  }
  out.estimated_tokens =
      static_cast<uint32_t>(std::min<uint64_t>(tokens, std::numeric_limits<uint32_t>::max()));
  return out;
}

absl::Status RequestInspector::ReadTopLevel(ondemand::object object, const char* base,
                                            InspectedRequest* out) {
  bool has_max_completion = false;
  bool has_max_tokens = false;
  uint32_t max_tokens = 0;
  for (auto field_result : object) {
    ondemand::field field;
    if (auto e = std::move(field_result).get(field)) return Malformed(e);
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return Malformed(e);
    ondemand::value value = field.value();
    absl::Status s;
    if (key == "model") {
      if (out->model_token_size != 0) {
        return absl::InvalidArgumentError("\"model\" is given more than once");
      }
      auto type = TypeOf(value);
      if (!type.ok()) return type.status();
      if (*type != ondemand::json_type::string) return WrongType("model", "a string");
      std::string_view raw = value.raw_json_token();  // before get_string() consumes it
      std::string_view model;
      if (auto e = value.get_string().get(model)) return Malformed(e);
      while (!raw.empty() && IsJsonSpace(raw.back())) raw.remove_suffix(1);
      out->model.assign(model);
      out->model_token_offset = static_cast<std::size_t>(raw.data() - base);
      out->model_token_size = raw.size();
    } else if (key == "stream") {
      s = ReadBool(value, "stream", &out->stream);
    } else if (key == "user") {
      auto type = TypeOf(value);
      if (!type.ok()) return type.status();
      if (*type == ondemand::json_type::null) continue;
      if (*type != ondemand::json_type::string) return WrongType("user", "a string");
      std::string_view user;
      if (auto e = value.get_string().get(user)) return Malformed(e);
      out->user.assign(user.substr(0, Utf8PrefixLength(user, kMaxUserBytes)));
    } else if (key == "stream_options") {
      auto type = TypeOf(value);
      if (!type.ok()) return type.status();
      if (*type == ondemand::json_type::null) continue;
      if (*type != ondemand::json_type::object) return WrongType("stream_options", "an object");
      ondemand::object options;
      if (auto e = value.get_object().get(options)) return Malformed(e);
      for (auto option_result : options) {
        ondemand::field option;
        if (auto e = std::move(option_result).get(option)) return Malformed(e);
        std::string_view name;
        if (auto e = option.unescaped_key().get(name)) return Malformed(e);
        if (name == "include_usage") {
          s = ReadBool(option.value(), "stream_options.include_usage", &out->include_usage);
          if (!s.ok()) return s;
        }
      }
    } else if (key == "max_tokens") {
      s = ReadTokenCount(value, "max_tokens", &has_max_tokens, &max_tokens);
    } else if (key == "max_completion_tokens") {
      s = ReadTokenCount(value, "max_completion_tokens", &has_max_completion,
                         &out->max_output_tokens);
    } else if (key == "messages") {
      s = ReadMessages(value, out);
    } else if (key == "prompt") {
      // A completion's prompt is all the caller asks: decision reads it as the last message.
      message_text_.clear();
      capturing_ = true;
      s = ReadPromptText(value, "prompt", out);
      capturing_ = false;
      out->last_user_message = message_text_;
    } else if (key == "input") {
      s = ReadPromptText(value, "input", out);
    }
    if (!s.ok()) return s;
  }
  if (!has_max_completion && has_max_tokens) out->max_output_tokens = max_tokens;
  return absl::OkStatus();
}

absl::Status RequestInspector::ReadMessages(ondemand::value messages, InspectedRequest* out) {
  auto type = TypeOf(messages);
  if (!type.ok()) return type.status();
  if (*type != ondemand::json_type::array) return WrongType("messages", "an array");
  ondemand::array array;
  if (auto e = messages.get_array().get(array)) return Malformed(e);
  for (auto message_result : array) {
    ondemand::value message;
    if (auto e = message_result.get(message)) return Malformed(e);
    ++out->message_count;
    auto message_type = TypeOf(message);
    if (!message_type.ok()) return message_type.status();
    if (*message_type != ondemand::json_type::object) {
      return WrongType("messages[]", "an object");
    }
    ondemand::object object;
    if (auto e = message.get_object().get(object)) return Malformed(e);
    // The role may come after the content: the content is kept until the role is known.
    bool user = false;
    message_text_.clear();
    capturing_ = true;
    for (auto field_result : object) {
      ondemand::field field;
      if (auto e = std::move(field_result).get(field)) return Malformed(e);
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return Malformed(e);
      if (key == "role") {
        // A role that is not a string is the backend's to refuse; it is not a user's.
        std::string_view role;
        user = !field.value().get_string().get(role) && role == "user";
        continue;
      }
      if (key != "content") continue;
      if (absl::Status s = ReadPromptText(field.value(), "messages[].content", out); !s.ok()) {
        return s;
      }
    }
    capturing_ = false;
    if (user) out->last_user_message.assign(message_text_);
  }
  return absl::OkStatus();
}

// Text is a string, null, or an array whose items are strings, content parts with a "text"
// string, or anything else (token ids, images), which carries no text.
absl::Status RequestInspector::ReadPromptText(ondemand::value value, const char* field,
                                              InspectedRequest* out) {
  auto type = TypeOf(value);
  if (!type.ok()) return type.status();
  if (*type == ondemand::json_type::null) return absl::OkStatus();
  if (*type == ondemand::json_type::string) {
    std::string_view text;
    if (auto e = value.get_string().get(text)) return Malformed(e);
    AppendText(text, out);
    return absl::OkStatus();
  }
  if (*type != ondemand::json_type::array) return WrongType(field, "a string or an array");
  ondemand::array array;
  if (auto e = value.get_array().get(array)) return Malformed(e);
  for (auto item_result : array) {
    ondemand::value item;
    if (auto e = item_result.get(item)) return Malformed(e);
    auto item_type = TypeOf(item);
    if (!item_type.ok()) return item_type.status();
    if (*item_type == ondemand::json_type::string) {
      std::string_view text;
      if (auto e = item.get_string().get(text)) return Malformed(e);
      AppendText(text, out);
    } else if (*item_type == ondemand::json_type::object) {
      ondemand::object part;
      if (auto e = item.get_object().get(part)) return Malformed(e);
      for (auto part_field_result : part) {
        ondemand::field part_field;
        if (auto e = std::move(part_field_result).get(part_field)) return Malformed(e);
        std::string_view key;
        if (auto e = part_field.unescaped_key().get(key)) return Malformed(e);
        if (key != "text") continue;
        ondemand::value text_value = part_field.value();
        auto text_type = TypeOf(text_value);
        if (!text_type.ok()) return text_type.status();
        if (*text_type != ondemand::json_type::string) continue;
        std::string_view text;
        if (auto e = text_value.get_string().get(text)) return Malformed(e);
        AppendText(text, out);
      }
    }
    // Other items (token ids, nested arrays) are skipped by the iterator.
  }
  return absl::OkStatus();
}

void RequestInspector::CaptureText(std::string_view text) {
  const std::size_t limit = options_.classifier_window_bytes;
  if (!message_text_.empty() && message_text_.size() < limit) message_text_.push_back('\n');
  const std::size_t room = limit - std::min(limit, message_text_.size());
  message_text_.append(text.substr(0, Utf8PrefixLength(text, room)));
}

void RequestInspector::AppendText(std::string_view text, InspectedRequest* out) {
  tokens_.Add(absl::string_view(text.data(), text.size()));
  if (capturing_) CaptureText(text);
  const std::size_t limit = options_.excerpt_limit_bytes;
  if (out->prompt_bytes > 0) {
    ++out->prompt_bytes;
    if (out->excerpt.size() < limit) {
      out->excerpt.push_back('\n');
    } else {
      out->excerpt_truncated = true;
    }
  }
  out->prompt_bytes += text.size();
  std::size_t room = limit - std::min(limit, out->excerpt.size());
  if (text.size() <= room) {
    out->excerpt.append(text);
  } else {
    out->excerpt.append(text.substr(0, Utf8PrefixLength(text, room)));
    out->excerpt_truncated = true;
  }
}

std::string RequestInspector::RewriteModel(std::string_view body, const InspectedRequest& inspected,
                                           std::string_view new_model) {
  std::string out;
  out.reserve(body.size() + new_model.size() + 8);
  out.append(body.substr(0, inspected.model_token_offset));
  AppendJsonString(&out, new_model);
  out.append(body.substr(inspected.model_token_offset + inspected.model_token_size));
  return out;
}

absl::StatusOr<std::string> RequestInspector::RewriteModel(std::string_view body,
                                                           std::string_view new_model) {
  absl::StatusOr<InspectedRequest> inspected = Inspect(body);
  if (!inspected.ok()) return inspected.status();
  return RewriteModel(body, *inspected, new_model);
}

}  // namespace llmrouter::gateway
