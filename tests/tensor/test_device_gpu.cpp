// GPU tests skip cleanly on machines without a CUDA device (they are reported as skipped).
#include <gtest/gtest.h>

#include "qf/tensor/device.h"

using namespace qf;

TEST(Device, CpuAlwaysParses) {
  EXPECT_EQ(parse_device("cpu"), Device::cpu);
}

TEST(Device, UnknownDeviceIsAClearError) {
  try {
    parse_device("tpu");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("tpu"), std::string::npos);
  }
}

TEST(DeviceGpu, CudaDeviceIsVisible) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  EXPECT_EQ(parse_device("cuda"), Device::cuda);
}
