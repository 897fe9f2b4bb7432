import { updateFee, updateLoan, updateRequest } from "../programs/updateItem.js"
import { updateUser } from "../programs/updateUser.js"
import { FeeMessage, LoanMessage, RequestMessage, UserMessage, userIdOf } from "../schema/QueueMessage.js"
import type { BatchSpec } from "./BatchRunner.js"
import type { ServiceContext } from "./runtime.js"

/** What each of the four Lambdas reads and runs; the batch runner does the rest. */

export const userBatch: BatchSpec<typeof UserMessage.Type, ServiceContext> = {
  name: "updateUser",
  queue: "users",
  message: UserMessage,
  ids: (message) => ({ userID: userIdOf(message) }),
  run: (message) => updateUser(userIdOf(message))
}

export const loanBatch: BatchSpec<LoanMessage, ServiceContext> = {
  name: "updateLoan",
  queue: "loans",
  message: LoanMessage,
  ids: ({ userID, loanID }) => ({ userID, loanID }),
  run: updateLoan
}

export const requestBatch: BatchSpec<RequestMessage, ServiceContext> = {
  name: "updateRequest",
  queue: "requests",
  message: RequestMessage,
  ids: ({ userID, requestID }) => ({ userID, requestID }),
  run: updateRequest
}

export const feeBatch: BatchSpec<FeeMessage, ServiceContext> = {
  name: "updateFee",
  queue: "fees",
  message: FeeMessage,
  ids: ({ userID, feeID }) => ({ userID, feeID }),
  run: updateFee
}
