// The Alma simulator: an HTTP server that answers the Alma Users API calls this project makes.
export type { CallHook, RefusalHook, SimulatorCall, SimulatorRefusal } from "./calls.js"
export type { FaultBurst, FaultKind, FaultSettings } from "./faults.js"
export { NO_FAULTS } from "./faults.js"
export type { GeneratedInstitution, GeneratedUser, InstitutionOptions } from "./institution.js"
export { DEFAULT_REFERENCE_TIME, DEFAULT_SEED, DEFAULT_USERS, generateInstitution } from "./institution.js"
export type { ItemEndpoint, ItemErrorSpec } from "./itemErrors.js"
export type { ItemFactory } from "./items.js"
export type { Thresholds } from "./limits.js"
export { DEFAULT_THRESHOLDS } from "./limits.js"
export type { RunAlmaSimulatorOptions } from "./main.js"
export { runAlmaSimulator } from "./main.js"
export type { AlmaSimulator, AlmaSimulatorOptions } from "./server.js"
export { AlmaSimulatorStartError, almaSimulatorScoped, BASE_PATH, HOST, startAlmaSimulator } from "./server.js"
export type { AlmaSimulatorStats } from "./stats.js"
export type { Institution, ItemExtra, LoanOverrides } from "./store.js"
export { createInstitution } from "./store.js"
export type {
  AlmaFee,
  AlmaFeeTransaction,
  AlmaLoan,
  AlmaRequest,
  AlmaUserData,
  CodeDesc,
  Endpoint,
  ValueLink
} from "./types.js"
