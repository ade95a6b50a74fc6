export {
  createDataApiEmulator,
  type DataApiEmulator,
  type DataApiEmulatorOptions,
  type EmulatorLogger,
} from "./server";
