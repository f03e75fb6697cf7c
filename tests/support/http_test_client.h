// A small blocking HTTP/1.1 client for tests: one request per call, or several over one
// keep-alive connection.
#ifndef LLMROUTER_TESTS_SUPPORT_HTTP_TEST_CLIENT_H_
#define LLMROUTER_TESTS_SUPPORT_HTTP_TEST_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
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

// One connection to 127.0.0.1:port kept open across calls, for tests of keep-alive and of slow
// clients. Every call blocks until it is done or its time limit has passed; after a timed-out
// call the connection is closed. Not thread-safe.
class HttpTestConnection {
 public:
  explicit HttpTestConnection(int port);
  ~HttpTestConnection();
  HttpTestConnection(const HttpTestConnection&) = delete;
  HttpTestConnection& operator=(const HttpTestConnection&) = delete;

  // False when the connection was refused.
  bool connected() const;
  // Writes `bytes`; false when the server has closed or reset the connection.
  bool Send(std::string_view bytes);
  // Writes `bytes` one at a time, `gap` apart, until all are written or the server has answered
  // or closed the connection; returns how many were written.
  std::size_t Trickle(std::string_view bytes, std::chrono::milliseconds gap);
  // Reads one response; status 0 and `error` set when none was complete within `limit`.
  HttpResult ReadResponse(std::chrono::milliseconds limit = std::chrono::seconds(60));
  // Waits up to `limit` for the server to close the connection; true when it did. Whatever
  // arrived before the close is appended to `received` when given.
  bool WaitForClose(std::chrono::milliseconds limit, std::string* received = nullptr);

 private:
  struct Io;
  std::unique_ptr<Io> io_;
};

// Sends raw bytes and returns whatever the server answers until it closes (or 5 s pass).
std::string RawExchange(int port, const std::string& bytes);

// The `data:` payloads of a server-sent-events body, in order.
std::vector<std::string> SseData(const std::string& body);

// The value of the series `series` (name and labels, as printed) on the /metrics page served at
// `metrics_port`; -1 when it is absent.
double ScrapeMetric(int metrics_port, const std::string& series);

}  // namespace llmrouter::testing

#endif  // LLMROUTER_TESTS_SUPPORT_HTTP_TEST_CLIENT_H_
