// The shapes the simulator serves, modelled on the real payloads in shared/fixtures/alma/.
// Code tables are deliberately not uniform: Alma uses {value,desc}, {value,name}, {value,description}
// and {value,link} in different places, and the simulator must reproduce that.

export interface CodeDesc {
  readonly value: string | null
  readonly desc: string | null
}

export interface ValueLink {
  readonly value: string
  readonly link: string | null
}

export interface AlmaLoan {
  readonly loan_id: string
  readonly circ_desk: CodeDesc
  readonly return_circ_desk?: { readonly value: null; readonly desc: null; readonly link: null }
  readonly library: CodeDesc
  readonly user_id: string
  readonly item_barcode: string
  readonly due_date: string
  readonly loan_status: string
  readonly loan_date: string
  readonly returned_by?: ValueLink
  readonly process_status: string
  readonly mms_id: string
  readonly holding_id: string
  readonly item_id: string
  readonly title: string
  readonly author: string | null
  readonly description: string | null
  readonly publication_year: string | null
  readonly location_code: { readonly value: string; readonly name: string }
  readonly item_policy: { readonly value: string | null; readonly description: string | null }
  readonly call_number: string | null
  readonly loan_fine?: number
  /** Only served with `expand=renewable`; always present in snapshots. */
  readonly renewable?: boolean
  readonly last_renew_date?: string
  readonly last_renew_status: CodeDesc
}

export interface AlmaRequest {
  readonly user_primary_id: string
  readonly request_id: string
  readonly additional_id?: string
  readonly request_type: string
  readonly request_sub_type: CodeDesc
  readonly mms_id: string
  readonly title: string
  readonly author: string | null
  readonly description: string | null
  readonly pickup_location?: string
  readonly pickup_location_type?: string
  readonly pickup_location_library?: string
  readonly target_destination?: CodeDesc
  readonly managed_by_library: string
  readonly managed_by_circulation_desk: string
  readonly managed_by_library_code: string
  readonly managed_by_circulation_desk_code: string
  /** `{}` occurs in real answers, hence both fields optional. */
  readonly material_type: { readonly value?: string | null; readonly desc?: string | null }
  readonly last_interest_date?: string
  readonly volume: string
  readonly issue: string
  readonly part: string
  readonly date_of_publication: string
  readonly comment: string | null
  /** Alma sends codes (`NOT_STARTED`) and labels (`Not Started`); both occur here. */
  readonly request_status: string
  readonly place_in_queue?: number
  readonly request_date: string
  readonly request_time: string
  readonly task_name?: string
  readonly expiry_date?: string
  readonly booking_start_date?: string
  readonly booking_end_date?: string
  readonly adjusted_booking_start_date?: string
  readonly adjusted_booking_end_date?: string
  readonly item_id?: string
  readonly barcode: string | null
}

export interface AlmaFeeTransaction {
  readonly type: CodeDesc
  readonly amount: number
  readonly vat_amount: number
  readonly created_by: string
  readonly external_transaction_id: string
  readonly transaction_time: string
  readonly received_by: CodeDesc
  readonly payment_method: CodeDesc
}

export interface AlmaFee {
  readonly id: string
  readonly type: CodeDesc
  readonly status: CodeDesc
  readonly user_primary_id: { readonly value: string; readonly link: string }
  readonly balance: number
  readonly remaining_vat_amount: number
  readonly original_amount: number
  readonly original_vat_amount: number
  readonly creation_time: string
  readonly status_time: string
  readonly comment: string | null
  readonly owner: CodeDesc
  readonly title: string | null
  readonly barcode: { readonly value: string; readonly link: string } | null
  /** Absent when the fee has no transactions, as in Alma. */
  readonly transaction?: readonly AlmaFeeTransaction[]
  readonly link: string
}

/** What the simulator holds for one user, as the API would serve it (loans with `renewable`). */
export interface AlmaUserData {
  readonly primaryId: string
  readonly loans: readonly AlmaLoan[]
  readonly requests: readonly AlmaRequest[]
  readonly fees: readonly AlmaFee[]
  readonly totalSum: number
}

export type Endpoint = "loans" | "loan" | "requests" | "request" | "fees" | "fee"
