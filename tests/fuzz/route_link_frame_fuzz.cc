// libFuzzer target: the route link's frame decoder, as a reader on either side uses it — frames
// taken off the front of what has arrived, each payload parsed as the message that side expects.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/route_link.h"
#include "llmrouter/v1/decision.pb.h"

namespace {

using llmrouter::NextRouteLinkFrame;
using llmrouter::RouteLinkFrameState;

void Check(bool ok) {
  if (!ok) std::abort();
}

void ReadFrames(std::string_view data, size_t max_frame_bytes) {
  while (true) {
    std::string_view payload;
    size_t frame_bytes = 99;
    RouteLinkFrameState state = NextRouteLinkFrame(data, max_frame_bytes, &payload, &frame_bytes);
    if (state == RouteLinkFrameState::kTooLarge) {
      Check(data.size() >= llmrouter::kRouteLinkFrameHeaderBytes);
      return;
    }
    if (state == RouteLinkFrameState::kIncomplete) {
      // Known size once the header is there, and more than what has arrived.
      Check(frame_bytes == 0 ? data.size() < llmrouter::kRouteLinkFrameHeaderBytes
                             : frame_bytes > data.size());
      Check(frame_bytes <= max_frame_bytes + llmrouter::kRouteLinkFrameHeaderBytes);
      return;
    }
    Check(frame_bytes == llmrouter::kRouteLinkFrameHeaderBytes + payload.size());
    Check(frame_bytes <= data.size());
    Check(payload.data() == data.data() + llmrouter::kRouteLinkFrameHeaderBytes);
    llmrouter::v1::RouteStreamRequest request;
    request.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
    llmrouter::v1::RouteStreamResponse response;
    response.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
    data.remove_prefix(frame_bytes);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ReadFrames(bytes, llmrouter::kRouteLinkMaxFrameBytes);
  ReadFrames(bytes, 1 << 20);
  ReadFrames(bytes, 64);  // small enough that short inputs meet the size limit too
  // What a server reads first: the preamble, then frames.
  if (bytes.substr(0, llmrouter::kRouteLinkPreamble.size()) == llmrouter::kRouteLinkPreamble) {
    ReadFrames(bytes.substr(llmrouter::kRouteLinkPreamble.size()), 1 << 20);
  }
  return 0;
}
