// Runs the rollouts the active bundle declares (docs/policies.md, "Rollouts"). Every tick it
// reads each rollout's progress from the store, and the replica allowed to act (the lease holder
// with a shared store; the only replica without one) judges the canary against its limits over
// the analysis window: a step is promoted once its duration has passed with a clean window, a
// breached limit (or a canary whose endpoints are all ejected or unhealthy) rolls it back to
// weight 0 at once, and too little traffic pauses it until there is enough. Each change is
// written with the version it replaces, so no step is taken twice, and is recorded as an event
// with its reason and figures. Every replica routes by the kept progress (RolloutRoutes), so all
// route by the same step within a tick.
#ifndef LLMROUTER_SERVICES_DECISION_ROLLOUT_CONTROLLER_H_
#define LLMROUTER_SERVICES_DECISION_ROLLOUT_CONTROLLER_H_

#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "llmrouter/v1/rollout.pb.h"
#include "services/decision/active_policy.h"
#include "services/decision/inventory_view.h"
#include "services/decision/rollout_routes.h"
#include "services/decision/rollout_store.h"
#include "services/decision/variant_windows.h"

namespace prometheus {
class Registry;
}

namespace llmrouter::decision {

struct RolloutControllerOptions {
  std::string replica;  // this replica's name, in events and the lease
  absl::Duration lease_ttl = absl::Seconds(5);
  // How many decision replicas run (null or -1: unknown, taken as one). Without a shared store
  // rollouts are refused when it says more than one.
  std::function<int()> replicas;
  std::string replicas_source;  // for the refusal's message, e.g. the DNS name asked
};

class RolloutController {
 public:
  enum class Action { kPause, kResume, kPromote, kAbort };
  // How long kept progress of a rollout the bundle no longer declares is kept (a bundle reaches
  // replicas minutes apart) before it is forgotten.
  static constexpr absl::Duration kForgetAfter = absl::Minutes(2);

  // `shared` (null without Redis) holds every replica's counts; else `local` alone is judged.
  RolloutController(const ActivePolicy& policy,
                    std::function<std::shared_ptr<const InventoryView>()> inventory,
                    VariantWindows& local, RolloutStore& store, SharedVariantCounts* shared,
                    RolloutRoutes& routes, prometheus::Registry* registry,
                    RolloutControllerOptions options);
  ~RolloutController();

  // One round: called every interval by the caller's periodic task (and once before serving).
  void Tick(absl::Time now);
  // Gives the lease up (shutting down), so that another replica judges at once.
  void Shutdown();

  // The active bundle's rollouts as of the last tick; one named, or all.
  std::vector<llmrouter::v1::RolloutStatus> Statuses(const std::string& name) const;
  absl::StatusOr<std::vector<llmrouter::v1::RolloutEvent>> Events(const std::string& name,
                                                                  std::size_t limit) const;
  // An operator's action: NotFound for a rollout the bundle does not declare,
  // FailedPrecondition when the rollout's state does not allow it (or it is refused here),
  // Aborted when another writer changed it at the same time, or since `expected_version` (0:
  // whatever it is now), Unavailable when the store is.
  absl::StatusOr<llmrouter::v1::RolloutStatus> Act(const std::string& name, Action action,
                                                   const std::string& reason, absl::Time now,
                                                   uint64_t expected_version = 0);

 private:
  struct Metrics;
  struct Judgement;

  absl::StatusOr<std::map<std::string, llmrouter::v1::RolloutStatus>> LoadKept();
  absl::StatusOr<VariantCounts> Counts(const std::string& model, const std::string& track,
                                       absl::Duration window, absl::Time now,
                                       absl::Time not_before);
  void LogWriteFailure(const std::string& rollout, const absl::Status& status);
  // The next state of a running rollout, or nothing to change.
  bool Judge(const RolloutSpec& spec, const llmrouter::v1::RolloutStatus& status, absl::Time now,
             llmrouter::v1::RolloutStatus* next, llmrouter::v1::RolloutEvent* event);
  // Writes `next` over `kept` (version compared) with `event`; false when another writer won.
  absl::StatusOr<bool> Write(llmrouter::v1::RolloutStatus* next, uint64_t kept_version,
                             llmrouter::v1::RolloutEvent* event, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(act_mu_);
  void Publish(const std::vector<const RolloutSpec*>& specs,
               const std::vector<llmrouter::v1::RolloutStatus>& statuses)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(act_mu_);

  const ActivePolicy& policy_;
  std::function<std::shared_ptr<const InventoryView>()> inventory_;
  VariantWindows& local_;
  RolloutStore& store_;
  SharedVariantCounts* shared_;
  RolloutRoutes& routes_;
  const RolloutControllerOptions options_;
  std::unique_ptr<Metrics> metrics_;

  // One writer at a time in this process: ticks and operator actions (and the routes and
  // metrics they publish, in order).
  absl::Mutex act_mu_;
  // Why this replica may neither judge nor act on rollouts now (refused, or its replicas not
  // counted yet); empty when it may.
  std::string held_ ABSL_GUARDED_BY(act_mu_);
  // Kept progress of rollouts the bundle no longer declares, since when this replica saw it so:
  // forgotten after kForgetAfter (a replica whose bundle lags must not wipe another's).
  absl::flat_hash_map<std::string, absl::Time> undeclared_since_ ABSL_GUARDED_BY(act_mu_);
  mutable absl::Mutex mu_;
  std::vector<llmrouter::v1::RolloutStatus> statuses_ ABSL_GUARDED_BY(mu_);
};

// Rollouts naming a track that no endpoint of their model has in `view`, located
// ("rollouts[0].tracks.canary").
std::vector<BundleProblem> RolloutTrackProblems(const PolicyBundle& bundle,
                                                const InventoryView& view);

// The canary's weight in a state at a step: the step's in progress or paused, 100 completed, else
// 0.
uint32_t CanaryWeight(const RolloutSpec& spec, const llmrouter::v1::RolloutStatus& status);
const char* RolloutStateName(llmrouter::v1::RolloutState state);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ROLLOUT_CONTROLLER_H_
