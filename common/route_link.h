// The route link: the gateway's fast path to decision. RouteStream's messages travel over a plain
// TCP connection in length-prefixed frames instead of HTTP/2, so that each side reads, routes
// and writes them on one event-loop thread without handing work to gRPC's threads. The schema
// is the proto's; gRPC stays the API and the fallback.
//
// A connection is plain TCP or, when the services have certificates, mutual TLS from the same
// files as gRPC (common/route_link_tls.h); inside it, it starts with the client's 8-byte
// preamble kRouteLinkPreamble. Then the client
// sends frames holding a RouteStreamRequest and the server frames holding a RouteStreamResponse;
// answers may come in any order and in other batches than their calls. A frame is a 4-byte
// big-endian payload length followed by the payload.
//
// A RouteStreamResponse with no results is the server's "going away": the client sends no more
// calls on that connection and closes it once the calls in flight are answered; the server keeps
// answering until then. The server never sends an empty response otherwise.
#ifndef LLMROUTER_COMMON_ROUTE_LINK_H_
#define LLMROUTER_COMMON_ROUTE_LINK_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "llmrouter/v1/decision.pb.h"

namespace llmrouter {

inline constexpr std::string_view kRouteLinkPreamble = "LLMRLNK1";
inline constexpr std::size_t kRouteLinkFrameHeaderBytes = 4;
// Decision closes a connection that sends a larger frame (its --route_link_max_frame_bytes
// default); gateways keep their batches of calls at or below it.
inline constexpr std::size_t kRouteLinkMaxFrameBytes = 1 << 20;
// The largest answer frame a gateway accepts. Decision answers each frame of calls in one frame,
// which explain traces can make larger than the calls.
inline constexpr std::size_t kRouteLinkMaxAnswerFrameBytes = 16 << 20;

// Appends one RouteCall to `body`, the payload of a RouteStreamRequest frame being built: the
// bytes a RouteStreamRequest holding the calls appended so far serializes to. `request` is
// serialized in place, not copied.
void AppendRouteCall(std::uint64_t id, const v1::RouteRequestRequest& request, std::string* body);

// Appends `message` to `out` as one frame.
void AppendRouteLinkFrame(const google::protobuf::MessageLite& message, std::string* out);
// Appends a frame header for a payload of `payload_bytes` to `out`.
void AppendRouteLinkFrameHeader(std::size_t payload_bytes, std::string* out);
// Writes that header into the kRouteLinkFrameHeaderBytes at `header` (a frame built in place).
void PutRouteLinkFrameHeader(std::size_t payload_bytes, char* header);

enum class RouteLinkFrameState {
  kIncomplete,  // more bytes are needed
  kComplete,    // *payload and *frame_bytes are set
  kTooLarge,    // the header announces more than max_frame_bytes: a protocol error
};

// Looks for one whole frame at the front of `data`. `*frame_bytes` is the whole frame's size as
// soon as its header is there, also while the rest is incomplete, and 0 before. Readers grow
// their buffers with the bytes that arrive, not to this size: a header is only a claim.
RouteLinkFrameState NextRouteLinkFrame(std::string_view data, std::size_t max_frame_bytes,
                                       std::string_view* payload, std::size_t* frame_bytes);

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_ROUTE_LINK_H_
