import { type FormEvent, useEffect, useState } from 'react';
import type { Api } from '../api';
import { type ProblemLike, problemMessage } from '../format';
import { useRouter } from '../router';
import { type Answer, type FieldErrors, type FormReading, useFormSubmission } from './useFormSubmission';

/**
 * What a detail screen edits, for useRecordEditor: how it names the record, and the admin
 * API calls for one record by id. A module-level constant, so that it stays the same
 * between renders.
 */
export interface EditableResource<Item, Patch> {
  /** The record in messages: "service" ("The service could not be saved."). */
  what: string;
  /** The list screen, in the page title ("Services") and as where a delete returns to ("/services"). */
  listTitle: string;
  listPath: string;
  get(api: Api, id: string): Answer<Item>;
  patch(api: Api, id: string, body: Patch): Answer<Item>;
  delete(api: Api, id: string): Promise<{ response: Response; error?: ProblemLike }>;
  /** What a refused delete shows. */
  deleteErrors(problem: ProblemLike | undefined): FieldErrors;
}

/**
 * A detail screen's record `id`: loaded (with the page title), saved from the screen's
 * form (`read` turns the form and the record as loaded into the changes), and deleted,
 * after which the screen returns to the list. The form's errors and notice come with it.
 */
export function useRecordEditor<Item, Patch>(api: Api, id: string, resource: EditableResource<Item, Patch>) {
  const { navigate } = useRouter();
  const [record, setRecord] = useState<Item | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const { errors, setErrors, notice, setNotice, submit } = useFormSubmission();

  useEffect(() => {
    document.title = `${id} · ${resource.listTitle} · Portier console`;
    resource
      .get(api, id)
      .then(({ data, error }) =>
        data === undefined ? setLoadError(problemMessage(error, `The ${resource.what} could not be loaded.`)) : setRecord(data),
      )
      .catch(() => setLoadError(`The ${resource.what} could not be loaded: Portier is not reachable.`));
  }, [api, id, resource]);

  const save = async (event: FormEvent<HTMLFormElement>, read: (form: FormData, record: Item) => FormReading<Patch>) => {
    event.preventDefault();
    if (record === null) return;
    const saved = await submit(
      event,
      (form) => read(form, record),
      (body) => resource.patch(api, id, body),
      `The ${resource.what} could not be saved.`,
    );
    if (saved === undefined) return;
    setRecord(saved);
    setNotice('Saved.');
  };

  const remove = async () => {
    setErrors({});
    const { response, error } = await resource.delete(api, id);
    if (response.status === 204) navigate(resource.listPath, true);
    else setErrors(resource.deleteErrors(error));
  };

  return { record, loadError, errors, notice, save, remove };
}
