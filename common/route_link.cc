#include "common/route_link.h"

namespace llmrouter {

namespace {

void AppendVarint(std::uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

std::size_t VarintBytes(std::uint64_t value) {
  std::size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

// Wire-format tags: field number << 3 | wire type (0 varint, 2 length-delimited).
constexpr char kCallsTag = (1 << 3) | 2;    // RouteStreamRequest.calls
constexpr char kIdTag = (1 << 3) | 0;       // RouteCall.id
constexpr char kRequestTag = (2 << 3) | 2;  // RouteCall.request

}  // namespace

void AppendRouteCall(std::uint64_t id, const v1::RouteRequestRequest& request, std::string* body) {
  const std::size_t request_size = request.ByteSizeLong();
  const std::size_t call_size = 1 + VarintBytes(id) + 1 + VarintBytes(request_size) + request_size;
  body->push_back(kCallsTag);
  AppendVarint(call_size, body);
  body->push_back(kIdTag);
  AppendVarint(id, body);
  body->push_back(kRequestTag);
  AppendVarint(request_size, body);
  const std::size_t at = body->size();
  body->resize(at + request_size);
  request.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(body->data() + at));
}

void PutRouteLinkFrameHeader(std::size_t payload_bytes, char* header) {
  const auto n = static_cast<std::uint32_t>(payload_bytes);
  header[0] = static_cast<char>(n >> 24);
  header[1] = static_cast<char>(n >> 16);
  header[2] = static_cast<char>(n >> 8);
  header[3] = static_cast<char>(n);
}

void AppendRouteLinkFrameHeader(std::size_t payload_bytes, std::string* out) {
  char header[kRouteLinkFrameHeaderBytes];
  PutRouteLinkFrameHeader(payload_bytes, header);
  out->append(header, sizeof header);
}

void AppendRouteLinkFrame(const google::protobuf::MessageLite& message, std::string* out) {
  const std::size_t size = message.ByteSizeLong();
  AppendRouteLinkFrameHeader(size, out);
  const std::size_t at = out->size();
  out->resize(at + size);
  message.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out->data() + at));
}

RouteLinkFrameState NextRouteLinkFrame(std::string_view data, std::size_t max_frame_bytes,
                                       std::string_view* payload, std::size_t* frame_bytes) {
  *frame_bytes = 0;
  if (data.size() < kRouteLinkFrameHeaderBytes) return RouteLinkFrameState::kIncomplete;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t size = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) |
                           (std::size_t{p[2]} << 8) | std::size_t{p[3]};
  if (size > max_frame_bytes) return RouteLinkFrameState::kTooLarge;
  *frame_bytes = kRouteLinkFrameHeaderBytes + size;
  if (data.size() < *frame_bytes) return RouteLinkFrameState::kIncomplete;
  *payload = data.substr(kRouteLinkFrameHeaderBytes, size);
  return RouteLinkFrameState::kComplete;
}

}  // namespace llmrouter
