export { ORG_CURRENCIES, SELLER_ID } from './seed.ts';
export {
  CONTROL_PREFIX,
  type DataverseFault,
  DEMO_CLIENT_ID,
  DEMO_CLIENT_SECRET,
  DEMO_TENANT_ID,
  type DynamicsEmulatorInfo,
  type DynamicsEmulatorOptions,
  type RunningDynamicsEmulator,
  startDynamicsEmulator,
} from './server.ts';
