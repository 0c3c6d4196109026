import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { installAutomation } from './state/automation';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
installAutomation();
export default mount(App, { target });
