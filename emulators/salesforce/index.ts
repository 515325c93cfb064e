export type { FaultSpec } from './faults.ts';
export {
  DEMO_CLIENT_ID,
  DEMO_CLIENT_SECRET,
  DEMO_USERNAME,
  type RunningSalesforceEmulator,
  type SalesforceEmulatorInfo,
  type SalesforceEmulatorOptions,
  startSalesforceEmulator,
} from './server.ts';
export {
  HOW_CAN_MICROSOFT_HELP_VALUES,
  SHIPPED_CUSTOM_FIELDS,
  SHIPPED_CUSTOM_OBJECTS,
  type ShippedField,
  SOLUTION_CATALOGUE_OBJECT,
  SOLUTION_JUNCTION_OBJECT,
  SOLUTION_JUNCTION_RELATIONSHIP,
} from './shipped-fields.ts';
