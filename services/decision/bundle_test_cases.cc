// The tests section of a bundle: requests and the routing they expect.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/decision/bundle_reader.h"

namespace llmrouter::decision {

void ReadBundleTest(BundleReader& reader, const YAML::Node& n, const std::string& path,
                    BundleTest* t) {
  if (!reader.Map(n, path, {"name", "request", "expect"})) return;
  if (!reader.String(n["name"], Sub(path, "name"), &t->name)) t->name = path;
  const YAML::Node req = n["request"];
  std::string rp = Sub(path, "request");
  if (!req) {
    reader.Problem(rp, "is required");
  } else if (reader.Map(req, rp,
                        {"model", "tenant", "tier", "region", "session", "user", "headers",
                         "prompt", "max_tokens"})) {
    if (!req["model"]) reader.Problem(Sub(rp, "model"), "is required");
    reader.String(req["model"], Sub(rp, "model"), &t->request.model);
    reader.String(req["tenant"], Sub(rp, "tenant"), &t->request.tenant);
    if (req["tier"]) reader.Enum(req["tier"], Sub(rp, "tier"), kTiers, &t->request.tier);
    reader.String(req["region"], Sub(rp, "region"), &t->request.region);
    reader.String(req["session"], Sub(rp, "session"), &t->request.session);
    reader.String(req["user"], Sub(rp, "user"), &t->request.user);
    reader.String(req["prompt"], Sub(rp, "prompt"), &t->request.prompt);
    reader.Uint(req["max_tokens"], Sub(rp, "max_tokens"), &t->request.max_tokens);
    if (const YAML::Node h = req["headers"]) {
      if (!h.IsMap()) {
        reader.Problem(Sub(rp, "headers"), "must be a mapping");
      } else {
        for (const auto& kv : h) {
          t->request.headers[absl::AsciiStrToLower(kv.first.Scalar())] = kv.second.Scalar();
        }
      }
    }
  }
  const YAML::Node e = n["expect"];
  std::string ep = Sub(path, "expect");
  if (!e) {
    reader.Problem(ep, "is required");
  } else if (reader.Map(e, ep, {"model", "rule", "deny"})) {
    reader.String(e["model"], Sub(ep, "model"), &t->expect_model);
    reader.String(e["rule"], Sub(ep, "rule"), &t->expect_rule);
    reader.Bool(e["deny"], Sub(ep, "deny"), &t->expect_deny);
    if (t->expect_model.empty() && !t->expect_deny) reader.Problem(ep, "needs model or deny: true");
  }
}

}  // namespace llmrouter::decision
