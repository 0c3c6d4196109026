import type { Page } from '@playwright/test';

/** Leaves only the given variants ticked in the planner (ids as the planner's rows and columns spell them: rtn3, wanda2:4). */
export async function chooseVariants(page: Page, keep: string[]): Promise<void> {
  const boxes = page.locator('.planner table.grid input[type="checkbox"]');
  for (let i = 0; i < (await boxes.count()); i++) {
    const box = boxes.nth(i);
    const row = (await box.locator('xpath=ancestor::tr/th').innerText()).trim().toLowerCase();
    const label = (await box.locator('xpath=..').innerText()).trim();
    const id = `${row}${label.replace('-bit', '').replace('50%', '0.5')}`;
    if ((await box.isChecked()) !== keep.includes(id)) await box.click();
  }
}
