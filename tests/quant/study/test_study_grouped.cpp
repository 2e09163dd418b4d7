// The grouped per-stock path of a study (what --device cuda runs, here with the CPU reference backend):
// every fit of a phase trained in lockstep by nn::fit_multi must give the one-by-one CPU path's
// predictions bit for bit, cross-validation, fold and test predictions alike.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/synthetic_store.h"
#include "qf/quant/study/training.h"
#include "qf/tensor/device.h"
#include "qf/tensor/parallel.h"

using namespace qf;
namespace fs = std::filesystem;

namespace {

// Two trials, so that each phase has more than one lockstep group; `fresh` false resumes what `out` holds.
quant::StudyResult run_study(const fs::path& out, quant::FitDevice device, bool fresh = true,
                             bool one_trial = false) {
  static const test_support::SyntheticStore store = test_support::synthetic_store(
      "grouped", {.tickers = 6, .days = 900, .seed = 31, .predictability = 0.2});
  quant::StudyOptions o;
  o.folds = 2;
  o.fit.epochs = 3;
  o.fit.patience = 1;
  o.min_train_samples = 100;
  o.device = device;
  quant::Trial t;
  t.model = {"lstm", 0, 8, 1, 0.0};
  t.window = 20;
  t.features = "returns";
  quant::Trial wider = t;
  wider.model.hidden_size = 12;
  if (fresh) fs::remove_all(out);
  set_num_threads(2);
  quant::Study study(store.universe, store.features, o, one_trial ? std::vector{t} : std::vector{t, wider},
                     out);
  auto r = study.run();
  study.write_registry(r, "test");
  return r;
}

}  // namespace

TEST(StudyGrouped, LockstepFitsGiveTheCpuPathsBits) {
  const auto one_by_one = run_study(test_support::temp_path("study_cpu"), quant::FitDevice::cpu);
  const auto grouped = run_study(test_support::temp_path("study_grouped"), quant::FitDevice::cpu_grouped);
  ASSERT_GT(one_by_one.test_predictions.size(), 500u);
  EXPECT_EQ(grouped.test_predictions.probability, one_by_one.test_predictions.probability);
  EXPECT_EQ(grouped.cv_predictions.probability, one_by_one.cv_predictions.probability);
  EXPECT_EQ(grouped.fold_predictions.probability, one_by_one.fold_predictions.probability);
  ASSERT_EQ(grouped.coverage.size(), one_by_one.coverage.size());
  for (std::size_t k = 0; k < grouped.coverage.size(); ++k) {
    EXPECT_EQ(grouped.coverage[k].status, one_by_one.coverage[k].status) << grouped.coverage[k].reason;
    EXPECT_EQ(grouped.coverage[k].best_epoch, one_by_one.coverage[k].best_epoch);
    EXPECT_EQ(grouped.coverage[k].epochs_run, one_by_one.coverage[k].epochs_run);
  }
  fs::remove_all(test_support::temp_path("study_cpu"));
  fs::remove_all(test_support::temp_path("study_grouped"));
}

// A grouped rerun trains only the units without a checkpoint, in groups of just those, and ends with the
// one-by-one path's results; the finished units are not retrained (their files stay as they were).
TEST(StudyGrouped, ResumeTrainsOnlyTheMissingUnits) {
  const fs::path out = test_support::temp_path("study_resume");
  const auto reference = run_study(out, quant::FitDevice::cpu);
  std::vector<fs::path> units;
  for (const auto& e : fs::recursive_directory_iterator(out / "checkpoints"))
    if (e.is_regular_file()) units.push_back(e.path());
  std::sort(units.begin(), units.end());
  ASSERT_GT(units.size(), 6u);
  const fs::path kept = units.front();
  const auto kept_time = fs::last_write_time(kept);
  for (std::size_t k = 1; k < units.size(); k += 2) fs::remove(units[k]);  // every other unit, both phases
  const auto resumed = run_study(out, quant::FitDevice::cpu_grouped, /*fresh=*/false);
  for (std::size_t k = 1; k < units.size(); k += 2) EXPECT_TRUE(fs::exists(units[k])) << units[k];
  EXPECT_EQ(fs::last_write_time(kept), kept_time);
  EXPECT_EQ(resumed.test_predictions.probability, reference.test_predictions.probability);
  EXPECT_EQ(resumed.cv_predictions.probability, reference.cv_predictions.probability);
  EXPECT_EQ(resumed.best_trial, reference.best_trial);
  fs::remove_all(out);
}

// Without a device the GPU groups fail cleanly: every unit is recorded as failed with the reason.
TEST(StudyGrouped, CudaWithoutDeviceRecordsTheReason) {
  if (qf::cuda_device_count() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  const fs::path out = test_support::temp_path("study_cuda");
  // (With two trials the study would stop: no trial has a CV score to select by.)
  const auto r = run_study(out, quant::FitDevice::cuda, true, /*one_trial=*/true);
  ASSERT_FALSE(r.coverage.empty());
  for (const auto& c : r.coverage) {
    if (c.status == "skipped") continue;
    EXPECT_EQ(c.status, "failed") << c.ticker;
    // No device, or (a build without CUDA, as the sanitizer builds) no backend at all.
    EXPECT_TRUE(c.reason.find("no CUDA device found") != std::string::npos ||
                c.reason.find("no CUDA backend") != std::string::npos)
        << c.reason;
  }
  fs::remove_all(out);
}
