/*
 * A stand-in NVIDIA driver (libcuda.so.1) for tests on machines without one: it implements the
 * driver calls that org.emberdl.tensor.cuda.CudaAvailability makes, with answers set by
 * environment variables, so that the driver-present paths run without a GPU. A call the probe does
 * not make is absent: the JVM resolves JNI symbols lazily and would die on it, which a test sees.
 *
 *   EMBER_STUB_DRIVER_VERSION  cuDriverGetVersion's answer (default 13000, CUDA 13.0)
 *   EMBER_STUB_CUINIT          cuInit's return code (default 0, CUDA_SUCCESS)
 *   EMBER_STUB_DEVICES         cuDeviceGetCount's answer (default 1)
 *
 * Every device is "Ember Stub GPU" with 80 GiB of memory and compute capability 9.0.
 * Built by CudaAvailabilityDriverTest: gcc -shared -fPIC -Wl,-soname,libcuda.so.1.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static int env_int(const char *name, int fallback) {
  const char *v = getenv(name);
  return v == NULL ? fallback : atoi(v);
}

int cuDriverGetVersion(int *version) {
  *version = env_int("EMBER_STUB_DRIVER_VERSION", 13000);
  return 0;
}

int cuInit(unsigned int flags) {
  (void) flags;
  return env_int("EMBER_STUB_CUINIT", 0);
}

int cuDeviceGetCount(int *count) {
  *count = env_int("EMBER_STUB_DEVICES", 1);
  return 0;
}

int cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return 0;
}

int cuDeviceGetName(char *name, int len, int device) {
  (void) device;
  strncpy(name, "Ember Stub GPU", (size_t) len);
  name[len - 1] = '\0';
  return 0;
}

int cuDeviceTotalMem_v2(size_t *bytes, int device) {
  (void) device;
  *bytes = (size_t) 80 << 30;
  return 0;
}

int cuDeviceGetAttribute(int *value, int attribute, int device) {
  (void) device;
  switch (attribute) {
    case 75: *value = 9; return 0; /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR */
    case 76: *value = 0; return 0; /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR */
    default: return 1;             /* CUDA_ERROR_INVALID_VALUE */
  }
}

int cuGetErrorName(int error, const char **name) {
  if (error == 100) {
    *name = "CUDA_ERROR_NO_DEVICE";
    return 0;
  }
  return 1;
}

int cuGetErrorString(int error, const char **text) {
  if (error == 100) {
    *text = "no CUDA-capable device is detected";
    return 0;
  }
  return 1;
}
