// routerctl apikeys create|list|revoke: the gateway's SQLite key store (--api_keys_db), written
// directly, without a service in between. Only digests are stored; a key is printed once.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/openai_error.h"
#include "services/gateway/api_key_db.h"
#include "tools/routerctl/routerctl_session.h"
#include "tools/routerctl/text_table.h"

namespace llmrouter::routerctl {
namespace {

using gateway::ApiKeyDb;
using gateway::ApiKeyRecord;

constexpr std::size_t kHashDigits = 12;

std::string Time(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string JsonTime(absl::Time t) {
  return absl::FormatTime("\"%Y-%m-%dT%H:%M:%SZ\"", t, absl::UTCTimeZone());
}

std::string RecordJson(const ApiKeyRecord& r, const std::string& key = "") {
  std::string out = absl::StrCat("{\"id\":", r.id, ",\"name\":");
  AppendJsonString(&out, r.name);
  out.append(",\"tenant\":");
  AppendJsonString(&out, r.tenant);
  out.append(",\"sha256\":");
  AppendJsonString(&out, r.sha256);
  absl::StrAppend(&out, ",\"createdAt\":", JsonTime(r.created_at));
  if (r.revoked_at) absl::StrAppend(&out, ",\"revokedAt\":", JsonTime(*r.revoked_at));
  if (!key.empty()) {
    out.append(",\"key\":");
    AppendJsonString(&out, key);
  }
  out.push_back('}');
  return out;
}

// "API key 3 (tenant acme, name "ci")"
std::string Describe(const ApiKeyRecord& r) {
  return absl::StrCat("API key ", r.id, " (tenant ", r.tenant,
                      r.name.empty() ? "" : absl::StrCat(", name \"", r.name, "\""), ")");
}

}  // namespace

absl::StatusOr<std::unique_ptr<ApiKeyDb>> RouterctlSession::OpenKeyDb(bool create) {
  return ApiKeyDb::Open(*cl_.Get("db"), create);
}

int RouterctlSession::ApiKeysCreate(const std::vector<std::string>& args) {
  auto db = OpenKeyDb(/*create=*/true);
  if (!db.ok()) return LocalError(db.status());
  auto created = (*db)->Create(*cl_.Get("tenant"), cl_.Get("name").value_or(""), absl::Now());
  if (!created.ok()) return LocalError(created.status());
  if (json_) {
    out_ << RecordJson(created->record, created->key) << "\n";
  } else {
    // The key alone on stdout, so that `KEY=$(routerctl apikeys create ...)` works.
    out_ << created->key << "\n";
    err_ << "created " << Describe(created->record)
         << "; this is the only time the key is shown: store it now\n";
  }
  return kExitOk;
}

int RouterctlSession::ApiKeysList(const std::vector<std::string>& args) {
  auto db = OpenKeyDb(/*create=*/false);
  if (!db.ok()) return LocalError(db.status());
  auto records = (*db)->List();
  if (!records.ok()) return LocalError(records.status());
  if (json_) {
    std::string out = "{\"apiKeys\":[";
    for (std::size_t i = 0; i < records->size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(RecordJson((*records)[i]));
    }
    out_ << out << "]}\n";
    return kExitOk;
  }
  if (records->empty()) {
    out_ << "no API keys\n";
    return kExitOk;
  }
  TextTable table({"ID", "NAME", "TENANT", "CREATED", "REVOKED", "SHA256"});
  for (const ApiKeyRecord& r : *records) {
    table.AddRow({absl::StrCat(r.id), r.name.empty() ? "-" : r.name, r.tenant, Time(r.created_at),
                  r.revoked_at ? Time(*r.revoked_at) : "-", r.sha256.substr(0, kHashDigits)});
  }
  out_ << table.Render();
  return kExitOk;
}

int RouterctlSession::ApiKeysRevoke(const std::vector<std::string>& args) {
  auto db = OpenKeyDb(/*create=*/false);
  if (!db.ok()) return LocalError(db.status());
  auto revoked = (*db)->Revoke(args[0], absl::Now());
  if (!revoked.ok()) return LocalError(revoked.status());
  if (json_) {
    out_ << RecordJson(*revoked) << "\n";
  } else {
    out_ << "revoked " << Describe(*revoked)
         << "; gateways reading this database refuse it within about a second\n";
  }
  return kExitOk;
}

}  // namespace llmrouter::routerctl
