import { type FormEvent, useEffect, useState } from 'react';
import { type IntlShape, useIntl } from 'react-intl';
import type { Api } from '../api';
import type { ProblemLike } from '../format';
import type { MessageId } from '../i18n/messages';
import { explainProblem } from '../i18n/problems';
import { useRouter } from '../router';
import { type Answer, type FieldErrors, type FormReading, useFormSubmission } from './useFormSubmission';

/**
 * What a detail screen edits, for useRecordEditor: how it names the record, and the admin
 * API calls for one record by id. A module-level constant, so that it stays the same
 * between renders.
 */
export interface EditableResource<Item, Patch> {
  /** What the screen says when the record could not be loaded, or saved. */
  loadFailed: MessageId;
  saveFailed: MessageId;
  /** The list screen, in the page title ("Services") and as where a delete returns to ("/services"). */
  listTitle: MessageId;
  listPath: string;
  get(api: Api, id: string): Answer<Item>;
  patch(api: Api, id: string, body: Patch): Answer<Item>;
  delete(api: Api, id: string): Promise<{ response: Response; error?: ProblemLike }>;
  /** What a refused delete shows, in `intl`'s language. */
  deleteErrors(problem: ProblemLike | undefined, intl: IntlShape): FieldErrors;
}

/**
 * A detail screen's record `id`: loaded (with the page title), saved from the screen's
 * form (`read` turns the form and the record as loaded into the changes), and deleted,
 * after which the screen returns to the list. The form's errors, notice, `busy` and `run`
 * (useFormSubmission's) come with it, for the screen's other buttons.
 */
export function useRecordEditor<Item, Patch>(api: Api, id: string, resource: EditableResource<Item, Patch>) {
  const { navigate } = useRouter();
  const [record, setRecord] = useState<Item | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const { errors, setErrors, notice, setNotice, busy, submit, run } = useFormSubmission();
  const intl = useIntl();

  useEffect(() => {
    document.title = intl.formatMessage({ id: 'app.title' }, { screen: `${id} · ${intl.formatMessage({ id: resource.listTitle })}` });
    const failed = intl.formatMessage({ id: resource.loadFailed });
    resource
      .get(api, id)
      .then(({ data, error }) => (data === undefined ? setLoadError(explainProblem(intl, error, failed)) : setRecord(data)))
      .catch((thrown) => setLoadError(explainProblem(intl, thrown, failed)));
  }, [api, id, resource, intl]);

  const save = async (event: FormEvent<HTMLFormElement>, read: (form: FormData, record: Item) => FormReading<Patch>) => {
    event.preventDefault();
    if (record === null) return;
    const saved = await submit(
      event,
      (form) => read(form, record),
      (body) => resource.patch(api, id, body),
      intl.formatMessage({ id: resource.saveFailed }),
    );
    if (saved === undefined) return;
    setRecord(saved);
    setNotice(intl.formatMessage({ id: 'common.saved' }));
  };

  const remove = async () => {
    setErrors({});
    try {
      const { response, error } = await resource.delete(api, id);
      if (response.status === 204) navigate(resource.listPath, true);
      else setErrors(resource.deleteErrors(error, intl));
    } catch (thrown) {
      setErrors(resource.deleteErrors(thrown as ProblemLike, intl));
    }
  };

  return { record, loadError, errors, notice, setNotice, busy, run, save, remove };
}
