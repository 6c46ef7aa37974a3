// Jest loads its global teardown without our TypeScript transform: load it through tsx.
import { tsImport } from 'tsx/esm/api';

const { default: teardown } = await tsImport('./teardown.ts', import.meta.url);
export default teardown;
