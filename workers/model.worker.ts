import * as Comlink from 'comlink';
import { ModelLibrary } from '../src/lib/app/model-library';

Comlink.expose(new ModelLibrary());
