// A small blocking HTTP/1.1 client for tests: one request per call, or several over one
// keep-alive connection.
#ifndef LLMROUTER_TESTS_SUPPORT_HTTP_TEST_CLIENT_H_
#define LLMROUTER_TESTS_SUPPORT_HTTP_TEST_CLIENT_H_

#include <map>
#include <string>
#include <vector>

namespace llmrouter::testing {

struct HttpResult {
  int status = 0;  // 0 when no response arrived
  std::string error;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool chunked = false;
  // The body pieces as they arrived off the wire (for streaming checks).
  std::vector<std::string> pieces;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Sends one request to 127.0.0.1:port and reads the whole response.
HttpResult HttpCall(int port, const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::map<std::string, std::string>& headers = {});

// Sends raw bytes and returns whatever the server answers until it closes (or 5 s pass).
std::string RawExchange(int port, const std::string& bytes);

// The `data:` payloads of a server-sent-events body, in order.
std::vector<std::string> SseData(const std::string& body);

}  // namespace llmrouter::testing

#endif  // LLMROUTER_TESTS_SUPPORT_HTTP_TEST_CLIENT_H_
