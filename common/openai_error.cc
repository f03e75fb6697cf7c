#include "common/openai_error.h"

#include <cstdio>

namespace llmrouter {

std::string_view OpenAiErrorType(int http_status) {
  switch (http_status) {
    case 400:
    case 404:
    case 405:
    case 413:
    case 422:
    case 431:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 429:
      return "rate_limit_error";
    default:
      return http_status >= 500 ? "server_error" : "invalid_request_error";
  }
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out->append(buf);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

std::string OpenAiErrorJson(int http_status, std::string_view message, std::string_view code) {
  std::string out = "{\"error\":{\"message\":";
  AppendJsonString(&out, message);
  out.append(",\"type\":");
  AppendJsonString(&out, OpenAiErrorType(http_status));
  out.append(",\"param\":null,\"code\":");
  if (code.empty()) {
    out.append("null");
  } else {
    AppendJsonString(&out, code);
  }
  out.append("}}");
  return out;
}

}  // namespace llmrouter
