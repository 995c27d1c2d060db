// The header's language menu: keeps the account's choice on the server (PUT /api/v1/users/me/language)
// and reloads, so the pages, the printed report and the spoken phrases come in that language.
import { putJson } from './api.js';

const select = document.getElementById('language-select');
if (select) {
  select.addEventListener('change', async () => {
    select.disabled = true;
    try {
      await putJson('/api/v1/users/me/language', { language: select.value });
      window.location.reload();
    } catch (error) {
      select.disabled = false;
      select.value = select.dataset.chosen ?? '';
      window.alert(error.message);
    }
  });
}
