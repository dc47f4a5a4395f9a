// Global setup: starts the real services (Swift with s3api, etcd) once per test run.
// (Implemented with scripts/services.sh.)
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {};
}
